"""The Ikomia drop-in: an infer_stable_cascade script runs with only its imports changed."""
import io
import os
from contextlib import redirect_stdout

import numpy as np
import pytest

import stable_cascade_c as sc
from stable_cascade_c.ikomia.dataprocess import CImageIO
from stable_cascade_c.ikomia.dataprocess.workflow import Workflow
from stable_cascade_c.ikomia.utils import ik
from stable_cascade_c.ikomia.utils.displayIO import display

DATA = os.path.join(os.path.dirname(__file__), "data", "pipeline")
PRIOR = os.path.join(DATA, "stable-cascade-prior")
DECODER = os.path.join(DATA, "stable-cascade")

# The example script of the API contract, its exact parameter dict (string values).
CONTRACT_PARAMS = {
    "prompt": "a chubby hamster climbing a mountain", "negative_prompt": "",
    "prior_num_inference_steps": "20", "prior_guidance_scale": "4.0",
    "num_inference_steps": "30", "guidance_scale": "0.0", "seed": "142753564",
    "width": "1024", "height": "1024", "num_images_per_prompt": "1",
}
# The same at a size the tiny models run in a moment, for the behaviour tests.
SCRIPT_PARAMS = {
    "prompt": "a chubby hamster climbing a mountain", "negative_prompt": "",
    "prior_num_inference_steps": "3", "prior_guidance_scale": "4.0",
    "num_inference_steps": "2", "guidance_scale": "0.0", "seed": "142753564",
    "width": "256", "height": "256", "num_images_per_prompt": "1",
}


@pytest.fixture(autouse=True)
def tiny_models(monkeypatch):
    monkeypatch.setenv("STABLE_CASCADE_PRIOR", PRIOR)
    monkeypatch.setenv("STABLE_CASCADE_DECODER", DECODER)
    monkeypatch.setenv("STABLE_CASCADE_DEVICE", "cpu")


def test_readme_script_runs_and_equals_the_pipeline(monkeypatch):
    from PIL import Image

    shown = []
    monkeypatch.setattr(Image.Image, "show", lambda self, title=None: shown.append(self.size))
    wf = Workflow()
    algo = wf.add_task(name="infer_stable_cascade", auto_connect=False)
    algo.set_parameters(CONTRACT_PARAMS)
    out = io.StringIO()
    with redirect_stdout(out):
        wf.run()
    image = algo.get_output(0).get_image()
    assert image.dtype == np.uint8 and image.shape == (1024, 1024, 3)
    assert "Seed:\t142753564" in out.getvalue()
    want = sc.Pipeline.from_pretrained(prior=PRIOR, decoder=DECODER, device="cpu")(CONTRACT_PARAMS, progress=False)[0]
    np.testing.assert_array_equal(image, want)
    assert algo.get_output(1) is None
    display(image)
    assert shown == [(1024, 1024)]


def test_get_parameters_are_strings_with_ikomia_round_trip():
    task = Workflow().add_task(name="infer_stable_cascade")
    params = task.get_parameters()
    assert set(params) == {"prompt", "negative_prompt", "prior_num_inference_steps", "prior_guidance_scale",
                           "num_inference_steps", "guidance_scale", "seed", "width", "height",
                           "num_images_per_prompt", "cuda"}
    assert all(isinstance(v, str) for v in params.values())
    task.set_parameters({"prior_guidance_scale": "4", "width": "1000", "steps": "5"})  # unknown key ignored
    params = task.get_parameters()
    assert params["prior_guidance_scale"] == "4.0" and params["width"] == "896"
    assert params["height"] == "1024"  # partial update keeps the rest


def test_size_floor_prints_ikomias_message():
    task = Workflow().add_task(name="infer_stable_cascade")
    out = io.StringIO()
    with redirect_stdout(out):
        task.set_parameters({"height": "1000"})
    assert "Updating height to 896 to be a multiple of 128" in out.getvalue()


@pytest.mark.parametrize("key,value", [("num_inference_steps", "30.0"), ("seed", "abc"), ("cuda", "maybe"),
                                       ("width", "100"), ("prior_num_inference_steps", "0")])
def test_bad_value_raises_runtime_error_at_set_time_and_changes_nothing(key, value):
    task = Workflow().add_task(name="infer_stable_cascade")
    before = task.get_parameters()
    with pytest.raises(RuntimeError, match=key if key != "width" else "width"):
        task.set_parameters({key: value})
    assert task.get_parameters() == before


def test_unknown_task_name_lists_the_supported_one():
    with pytest.raises(RuntimeError, match="infer_stable_cascade"):
        Workflow().add_task(name="infer_yolo_v8")


def test_outputs_do_not_accumulate_across_runs():
    wf = Workflow()
    algo = wf.add_task(name="infer_stable_cascade")
    algo.set_parameters(dict(SCRIPT_PARAMS, num_images_per_prompt="2", seed="-1"))
    with redirect_stdout(io.StringIO()):
        wf.run()
        first_seed = algo.seed
        wf.run()
    assert algo.get_output_count() == 2
    assert all(o.get_image().shape == (256, 256, 3) for o in algo.get_outputs())
    assert algo.get_output(2) is None
    assert 0 <= first_seed <= 191965535 and algo.get_parameters()["seed"] == "-1"


def test_ik_factory_and_workflow_set_parameters():
    task = ik.infer_stable_cascade(seed=5, width="512")
    assert task.get_parameters()["seed"] == "5"
    wf = Workflow()
    wf.add_task(task)
    wf.set_parameters({"seed": 6}, task_obj=task)
    assert task.get_parameters()["seed"] == "6"
    assert ik.infer_stable_cascade.name() == "infer_stable_cascade"


def test_display_rejects_unsupported_types():
    with pytest.raises(NotImplementedError, match="Unsupported type"):
        display(None)
    display(CImageIO())  # empty output: silently nothing


def test_empty_workflow_raises():
    with pytest.raises(RuntimeError, match="Empty workflow"):
        Workflow().run()
