"""Values as logs write them: numbers, numeric strings, one-element lists."""

from __future__ import annotations


def as_float(value: object) -> float | None:
    """A logged value as a float: numbers, numeric strings ("9.3", "inf"), and a
    one-element list (DeepSpeed's lr=[0.001]); None for anything else (booleans too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    if isinstance(value, list) and len(value) == 1:
        return as_float(value[0])
    return None
