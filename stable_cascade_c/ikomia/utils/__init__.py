"""Ikomia's small helpers: ``strtobool`` and the ``ik`` auto-completion namespace."""


def strtobool(value: str) -> bool:
    """y/yes/t/true/on/1 -> True, n/no/f/false/off/0 -> False (any case); else ValueError."""
    v = str(value).strip().lower()
    if v in ("y", "yes", "t", "true", "on", "1"):
        return True
    if v in ("n", "no", "f", "false", "off", "0"):
        return False
    raise ValueError(f"invalid truth value {value!r}")
