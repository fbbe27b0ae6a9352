"""Evidence read straight from the event's own statistics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diagnose.detectors.base import Event
from diagnose.run import Run

_OPS = {
    "true": lambda v, _: bool(v),
    "false": lambda v, _: not v,
    ">=": lambda v, x: v is not None and v >= x,
    "<=": lambda v, x: v is not None and v <= x,
}


def stat(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """event.stats[key] passes `op` ("true", "false", ">=", "<=") against `value`."""
    key, op = params["key"], params.get("op", "true")
    value = event.stats.get(key)
    if _OPS[op](value, params.get("value")):
        return 1.0, f"{key} = {value}"
    return 0.0, ""


def signal_is(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The event's first affected signal starts with `prefix` (e.g. "grad_norm")."""
    name = event.stats.get("first_signal") or event.signal or ""
    if name.startswith(params.get("prefix", "")):
        return 1.0, f"first seen in {name}"
    return 0.0, ""
