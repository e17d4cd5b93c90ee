"""The user notebook runs clean end to end (on the tiny models)."""
import os

import nbformat
from nbclient import NotebookClient

from procutil import package_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "pipeline")


def test_notebook_runs_clean(monkeypatch, tmp_path):
    monkeypatch.setenv("STABLE_CASCADE_PRIOR", os.path.join(DATA, "stable-cascade-prior"))
    monkeypatch.setenv("STABLE_CASCADE_DECODER", os.path.join(DATA, "stable-cascade"))
    monkeypatch.setenv("STABLE_CASCADE_DEVICE", "cpu")
    monkeypatch.setenv("SC_NOTEBOOK_SIZE", "256")
    monkeypatch.setenv("SC_NOTEBOOK_PRIOR_STEPS", "2")
    monkeypatch.setenv("SC_NOTEBOOK_STEPS", "2")
    # The kernel is a separate process: let it import the same build as this test process.
    monkeypatch.setenv("PYTHONPATH", package_env()["PYTHONPATH"])
    nb = nbformat.read(os.path.join(ROOT, "notebooks", "stable_cascade.ipynb"), as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(images) == 3
