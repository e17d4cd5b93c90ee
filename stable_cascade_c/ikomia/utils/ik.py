"""``ik.infer_stable_cascade(**params)``: a task factory as Ikomia's generated namespace has it."""
from ..dataprocess.infer_stable_cascade import TASK_NAME, InferStableCascade


class infer_stable_cascade:  # noqa: N801 (Ikomia's name)
    """``ik.infer_stable_cascade(prompt="...", seed="42")`` returns a configured task."""

    prompt = "prompt"
    negative_prompt = "negative_prompt"
    prior_num_inference_steps = "prior_num_inference_steps"
    prior_guidance_scale = "prior_guidance_scale"
    num_inference_steps = "num_inference_steps"
    guidance_scale = "guidance_scale"
    seed = "seed"
    width = "width"
    height = "height"
    num_images_per_prompt = "num_images_per_prompt"
    cuda = "cuda"

    def __new__(cls, **params):
        task = InferStableCascade()
        if params:
            task.set_parameters({k: str(v) for k, v in params.items()})
        return task

    @staticmethod
    def name() -> str:
        return TASK_NAME
