"""Ikomia's ``core`` names that scripts touch: the IO data type enum and the task base class."""
from enum import Enum


class IODataType(Enum):
    IMAGE = "IMAGE"


class CWorkflowTask:
    """Base of every task: name, outputs, elapsed time."""

    def __init__(self, name: str):
        self.name = name
        self._outputs: list = []
        self._elapsed_ms = 0.0

    def get_output(self, index: int):
        """The output at `index`, or None past the last one (as Ikomia returns)."""
        return self._outputs[index] if -len(self._outputs) <= index < len(self._outputs) else None

    def get_outputs(self) -> list:
        return list(self._outputs)

    def get_output_count(self) -> int:
        return len(self._outputs)

    def get_input_count(self) -> int:
        return 0

    def get_inputs(self) -> list:
        return []

    def get_elapsed_time(self) -> float:
        """Duration of the last run in milliseconds."""
        return self._elapsed_ms
