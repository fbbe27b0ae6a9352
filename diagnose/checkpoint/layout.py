"""What a loaded checkpoint object holds: the model's tensors, the optimizer state, the step.

Recognised: a bare state dict; {'model': ..., 'optimizer': ...} bundles (and the usual key
variants); Lightning ({'state_dict', 'optimizer_states', 'global_step'}); anything else with
tensors in nested dicts (flattened to dotted names).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MODEL_KEYS = ("model", "model_state_dict", "model_state", "state_dict", "net", "network", "module")
OPTIMIZER_KEYS = ("optimizer", "optimizer_state_dict", "optimizer_state", "optim", "opt")
STEP_KEYS = ("global_step", "step", "iteration", "iter", "num_updates")


@dataclass
class Contents:
    layout: str
    tensors: dict[str, Any]  # name -> torch.Tensor
    optimizer: Mapping | None
    step: int | None


def split(obj: Any) -> Contents:
    """The model tensors, optimizer state dict and step of a torch.load result."""
    if not isinstance(obj, Mapping):
        return Contents("nested", flatten(obj), None, None)
    if obj and all(_is_tensor(v) for v in obj.values()):
        return Contents("state_dict", dict(obj), None, None)
    step = _step(obj)
    if isinstance(obj.get("state_dict"), Mapping) and "optimizer_states" in obj:
        states = obj.get("optimizer_states") or [None]
        return Contents("lightning", flatten(obj["state_dict"]), as_optimizer(states[0]), step)
    model_key = next((k for k in MODEL_KEYS if isinstance(obj.get(k), Mapping)), None)
    optimizer_key = next((k for k in OPTIMIZER_KEYS if as_optimizer(obj.get(k))), None)
    if model_key:
        optimizer = as_optimizer(obj[optimizer_key]) if optimizer_key else None
        return Contents("bundle", flatten(obj[model_key]), optimizer, step)
    rest = {k: v for k, v in obj.items() if k != optimizer_key}
    return Contents("nested", flatten(rest), as_optimizer(obj.get(optimizer_key)), step)


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Every tensor in nested dicts / lists, by dotted name."""
    if _is_tensor(obj):
        return {prefix: obj} if prefix else {"tensor": obj}
    items = obj.items() if isinstance(obj, Mapping) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    found: dict[str, Any] = {}
    for key, value in items:
        found.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return found


def optimizer_step(optimizer: Mapping | None) -> int | None:
    """The optimizer's own update count (Adam-family keeps one per parameter)."""
    steps = [number(s.get("step")) for s in (optimizer or {}).get("state", {}).values()
             if isinstance(s, Mapping)]
    steps = [s for s in steps if s is not None]
    return int(max(steps)) if steps else None


def as_optimizer(value: Any) -> Mapping | None:
    """`value` if it is a torch optimizer state dict."""
    if isinstance(value, Mapping) and isinstance(value.get("state"), Mapping) and "param_groups" in value:
        return value
    return None


def _step(obj: Mapping) -> int | None:
    for key in STEP_KEYS:
        value = number(obj.get(key))
        if value is not None:
            return int(value)
    return None


def number(value: Any) -> float | None:
    """A saved scalar as a float: a Python or numpy number, or a one-element tensor; None for
    anything else (booleans too)."""
    if hasattr(value, "item") and getattr(value, "numel", lambda: 1)() == 1:
        value = value.item()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "is_floating_point")
