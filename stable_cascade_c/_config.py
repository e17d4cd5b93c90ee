"""Reading the JSON config files of model folders with errors that name the file."""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from typing import Any, Dict, Iterator


def read_json_object(path: str, what: str) -> Dict[str, Any]:
    """The JSON object in the file `path` (`what` names the file's role in messages).

    Raises FileNotFoundError when the file is absent, OSError when it cannot be read, and
    ValueError naming the file when it is not UTF-8 JSON holding one object.
    """
    if not os.path.isfile(path):
        if os.path.exists(path):
            raise OSError(f"{path}: the {what} is not a regular file")
        raise FileNotFoundError(f"{what} not found: {path}")
    with open(path, "rb") as f:
        data = f.read()
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError(f"{path}: not valid JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: must hold a JSON object, not {type(value).__name__}")
    return value


@contextmanager
def naming_file(path: str) -> Iterator[None]:
    """Checks of values read from `path` fail as a ValueError that starts with the path (a wrong
    type or an out-of-range number in a config is the file's problem, whatever raised it)."""
    try:
        yield
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"{path}: {exc}") from None
