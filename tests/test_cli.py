"""The command line: python -m stable_cascade_c."""
import os

from stable_cascade_c.__main__ import main

DATA = os.path.join(os.path.dirname(__file__), "data", "pipeline")
ARGS = ["--prior", os.path.join(DATA, "stable-cascade-prior"), "--decoder", os.path.join(DATA, "stable-cascade"),
        "--device", "cpu", "--width", "256", "--height", "128", "--prior-steps", "2", "--steps", "2", "--seed", "3"]


def test_cli_writes_one_png_per_image(tmp_path, capsys):
    out = tmp_path / "img.png"
    assert main(ARGS + ["-n", "2", "-o", str(out)]) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["img_0.png", "img_1.png"]
    assert (tmp_path / "img_0.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "seed 3" in capsys.readouterr().err


def test_cli_reports_errors_without_a_traceback(tmp_path, capsys):
    assert main(ARGS + ["--prior", str(tmp_path / "missing"), "-o", str(tmp_path / "x.png")]) == 1
    assert "model folder not found" in capsys.readouterr().err


def test_cli_info(capsys):
    assert main(["--info"]) == 0
    assert "cuda_compiled" in capsys.readouterr().out
