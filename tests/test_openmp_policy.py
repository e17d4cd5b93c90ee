"""The OpenMP wait-policy default set while the extension loads (stable_cascade_c/_openmp.py).

libgomp prints its settings at load with OMP_DISPLAY_ENV; each case imports the package in a
fresh interpreter with a controlled environment."""
import subprocess
import sys
import tempfile

from procutil import package_env

PROBE = ("import os, stable_cascade_c; "
         "print('after import:', os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))")


def import_with(**env_overrides):
    env = {k: v for k, v in package_env().items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(OMP_DISPLAY_ENV="verbose", **env_overrides)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=tempfile.gettempdir(), capture_output=True,
                         text=True, check=True)
    return out.stdout, out.stderr


def test_short_spin_by_default_and_environment_left_as_found():
    stdout, settings = import_with()
    assert "GOMP_SPINCOUNT = '1000'" in settings
    assert "after import: None None" in stdout


def test_user_wait_policy_is_respected():
    _, settings = import_with(OMP_WAIT_POLICY="active")
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in settings
    assert "GOMP_SPINCOUNT = '1000'" not in settings


def test_user_spin_count_is_respected():
    stdout, settings = import_with(GOMP_SPINCOUNT="12345")
    assert "GOMP_SPINCOUNT = '12345'" in settings
    assert "after import: 12345 None" in stdout
