"""``Workflow``: add the infer_stable_cascade task, set its parameters, run it."""
from __future__ import annotations

import logging
import time
from typing import Dict, List, Optional, Union

from .infer_stable_cascade import TASK_NAME, InferStableCascade

logger = logging.getLogger(__name__)


class Workflow:
    """A list of tasks run in order (only ``infer_stable_cascade`` exists here)."""

    def __init__(self, name: str = "Untitled", registry=None):
        self.name = name
        self._tasks: List[InferStableCascade] = []
        self._times: Dict[str, Dict[str, float]] = {}
        self._total_ms = 0.0

    def __repr__(self) -> str:
        return f'Workflow("{self.name}")'

    def add_task(self, task: Optional[InferStableCascade] = None, name: str = "", params: Optional[dict] = None,
                 auto_connect: bool = False, public_hub: bool = True, private_hub: bool = False):
        """Add `task`, or create the task called `name`; `params` are applied with set_parameters."""
        if task is None:
            if name != TASK_NAME:
                raise RuntimeError(f"Algorithm {name} can't be created: this Ikomia drop-in provides only "
                                   f"'{TASK_NAME}'.")
            task = InferStableCascade()
        if params:
            task.set_parameters(params)
        self._tasks.append(task)
        return task

    def get_tasks(self) -> list:
        return list(self._tasks)

    def find_task(self, name: str, index: int = -1):
        found = [t for t in self._tasks if t.name == name]
        if index == -1:
            return found
        return found[index]

    def remove_task(self, task=None, name: str = "", index: int = 0) -> None:
        target = task if task is not None else self.find_task(name, index)
        self._tasks.remove(target)

    def set_parameters(self, params: dict, task_obj=None, task_name: str = "", index: int = -1) -> None:
        """Set parameters of one task (by object or name); non-string values are str()-converted."""
        for key in params:
            if not isinstance(key, str):
                raise TypeError(f"parameter names must be strings, got {key!r}")
        params = {k: v if isinstance(v, str) else str(v) for k, v in params.items()}
        targets = [task_obj] if task_obj is not None else self.find_task(task_name or TASK_NAME)
        if index != -1:
            targets = [targets[index]]
        for task in targets:
            task.set_parameters(params)

    def run(self) -> None:
        """Run every task in order."""
        if not self._tasks:
            raise RuntimeError("Empty workflow, no task to run")
        start = time.perf_counter()
        self._times = {}
        for task in self._tasks:
            task.run()
            self._times[task.name] = {"task_time": task.get_elapsed_time(),
                                      "time_from_start": (time.perf_counter() - start) * 1000.0}
        self._total_ms = (time.perf_counter() - start) * 1000.0
        logger.info("Workflow %s run successfully in %.0f ms.", self.name, self._total_ms)

    def run_on(self, array=None, path: str = "", url: str = "", folder: str = "") -> None:
        """Inputs are accepted and ignored (infer_stable_cascade has none); then run()."""
        if array is None and not (path or url or folder):
            raise RuntimeError("run_on needs an array, a path, a url or a folder")
        self.run()

    def get_time_metrics(self) -> Dict[str, Union[float, Dict[str, float]]]:
        metrics: Dict[str, Union[float, Dict[str, float]]] = {"total_time": self._total_ms}
        metrics.update(self._times)
        return metrics
