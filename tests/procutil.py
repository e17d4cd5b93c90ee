"""Child Python processes that import the same stable_cascade_c as the test process.

`python -c` puts the current directory first on sys.path: run from the checkout against an
installed package, the source tree (without the built extension) would shadow it. The children
therefore run in a neutral directory with PYTHONPATH led by the folder the tests imported from.
"""
import os
import subprocess
import sys
import tempfile
from typing import Dict, Optional, Sequence

import stable_cascade_c


def package_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """os.environ plus `extra`, with PYTHONPATH led by the folder holding the imported package."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(stable_cascade_c.__file__)))
    env = dict(os.environ, **(extra or {}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def run_python(code: str, extra_env: Optional[Dict[str, str]] = None, timeout: float = 60,
               args: Sequence[str] = (), check: bool = False):
    """Run `code` (with `args` as sys.argv[1:]) in a fresh interpreter; returns the
    CompletedProcess (text output captured)."""
    return subprocess.run([sys.executable, "-c", code, *args], env=package_env(extra_env),
                          cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=timeout, check=check)
