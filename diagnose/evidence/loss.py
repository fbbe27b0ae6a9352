"""Evidence from the loss itself around an event."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from diagnose.detectors.base import Event
from diagnose.detectors.common import finite_points, fmt
from diagnose.evidence._window import before, history
from diagnose.run import Run


def at_start(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The event starts within the first `points` logged points or `fraction` of the run."""
    if event.step is None or not run.has("loss"):
        return 0.0, ""
    steps = run.series("loss").index.to_numpy()
    position = int(np.searchsorted(steps, event.step))
    if position <= max(params.get("points", 5), params.get("fraction", 0.0) * len(steps)):
        return 1.0, f"at logged point {position} of {len(steps)}"
    return 0.0, ""


def rising_before(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The loss climbed by `min_rise` (fraction) in the `points` points before the event."""
    if not run.has("loss"):
        return 0.0, ""
    window = params.get("points", 20)
    _, recent = before(run, "loss", event.step, window)
    earlier = history(run, "loss", event.step, window, params.get("history", 200))
    if len(recent) < 2 or len(earlier) < 5:
        return 0.0, ""
    base = float(np.median(earlier))
    if base > 0 and recent.max() >= (1 + params.get("min_rise", 0.5)) * base:
        return 1.0, f"loss climbed {fmt(base)} -> {fmt(recent.max())} before step {event.step}"
    return 0.0, ""


def steady_before(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The loss was finite and calm right up to the event: it broke suddenly."""
    strength, _ = rising_before(run, event, params)
    _, recent = before(run, "loss", event.step, params.get("points", 20))
    if strength == 0.0 and len(recent) >= 3:
        return 1.0, f"loss steady at {fmt(float(np.median(recent)))} right before step {event.step}"
    return 0.0, ""


def near_chance(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The final loss sits within `rel_tol` of ln(k) for an integer k in [2, max_k]."""
    if not run.has("loss"):
        return 0.0, ""
    _, loss = finite_points(run.series("loss"))
    if len(loss) < 5:
        return 0.0, ""
    level = float(np.median(loss[-max(1, len(loss) // 4) :]))
    k = run.meta.get("num_classes") or round(math.exp(min(level, 50.0)))
    if 2 <= k <= params.get("max_k", 1000) and abs(level - math.log(k)) <= params.get("rel_tol", 0.03) * math.log(k):
        return 1.0, f"loss {fmt(level)} ~ ln({k}) = {fmt(math.log(k))}"
    return 0.0, ""


def still_falling(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """Over the last `fraction` of the run the loss still fell by `min_drop` (fraction)."""
    if not run.has("loss"):
        return 0.0, ""
    _, loss = finite_points(run.series("loss"))
    tail = loss[-max(4, int(len(loss) * params.get("fraction", 0.25))) :]
    half = len(tail) // 2
    if half < 2:
        return 0.0, ""
    a, b = float(np.median(tail[:half])), float(np.median(tail[half:]))
    if a > 0 and (a - b) / a >= params.get("min_drop", 0.02):
        return 1.0, f"loss still falling at the end: {fmt(a)} -> {fmt(b)}"
    return 0.0, ""


def train_near_zero(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The training loss ends below `fraction` of its initial value: the model memorises."""
    if not run.has("loss"):
        return 0.0, ""
    _, loss = finite_points(run.series("loss"))
    if len(loss) < 10:
        return 0.0, ""
    edge = max(1, len(loss) // 10)
    start, end = float(np.median(loss[:edge])), float(np.median(loss[-edge:]))
    if start > 0 and end <= params.get("fraction", 0.1) * start:
        return 1.0, f"train loss {fmt(start)} -> {fmt(end)}"
    return 0.0, ""


def first_nonfinite_is_inf(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The loss's first non-finite value is +-Inf (an overflow or log(0)), not NaN."""
    if not run.has("loss"):
        return 0.0, ""
    values = run.series("loss").to_numpy(dtype="float64", copy=False)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad) and np.isinf(values[bad[0]]):
        return 1.0, f"loss first became {values[bad[0]]:+} (overflow or log(0)), not NaN"
    return 0.0, ""
