"""Evidence from the learning-rate schedule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from diagnose.detectors.base import Event
from diagnose.detectors.common import finite_points, fmt
from diagnose.evidence._window import before
from diagnose.run import Run


def rose_before(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The LR rose by `min_rise` (fraction) within `points` logged points before the event."""
    if not run.has("lr"):
        return 0.0, ""
    _, lr = before(run, "lr", event.step, params.get("points", 100))
    if len(lr) < 2 or lr.min() <= 0:
        return 0.0, ""
    rise = lr[-1] / lr.min() - 1
    if rise < params.get("min_rise", 0.2):
        return 0.0, ""
    return 1.0, f"lr {fmt(lr.min())} -> {fmt(lr[-1])} just before step {event.step}"


def after_warmup(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The event comes within `within` steps after a warm-up (an LR ramp from the start) peaked."""
    if not run.has("lr") or event.step is None:
        return 0.0, ""
    steps, lr = finite_points(run.series("lr"))
    upto = steps <= event.step
    if upto.sum() < 3:
        return 0.0, ""
    peak_i = int(np.argmax(lr[upto]))
    ramped = lr[0] < 0.5 * lr[peak_i]
    gap = event.step - steps[peak_i]
    if ramped and 0 <= gap <= params.get("within", 200):
        return 1.0, f"warm-up peaked at lr {fmt(lr[peak_i])} at step {int(steps[peak_i])}, {int(gap)} steps before"
    return 0.0, ""


def constant(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """No schedule: the LR never moved by more than `tolerance` (fraction)."""
    if not run.has("lr"):
        return 0.0, ""
    _, lr = finite_points(run.series("lr"))
    if len(lr) < 2 or lr.min() <= 0 or lr.max() / lr.min() - 1 > params.get("tolerance", 0.01):
        return 0.0, ""
    return 1.0, f"constant lr {fmt(lr[0])}, no decay"


def at_least(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The LR at the event is at least `value` (large for the optimizer family)."""
    if not run.has("lr"):
        return 0.0, ""
    _, lr = before(run, "lr", event.step, 1)
    if len(lr) and lr[-1] >= params.get("value", 0.1):
        return 1.0, f"lr {fmt(lr[-1])} at the event"
    return 0.0, ""


def at_most(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The LR over the run never exceeds `value` (tiny steps)."""
    if not run.has("lr"):
        return 0.0, ""
    _, lr = finite_points(run.series("lr"))
    if len(lr) and lr.max() <= params.get("value", 1e-5):
        return 1.0, f"lr at most {fmt(lr.max())}"
    return 0.0, ""
