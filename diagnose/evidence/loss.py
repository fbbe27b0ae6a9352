"""Evidence from the loss itself around an event."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from diagnose.detectors.base import Event
from diagnose.detectors.common import finite_points, fmt, initial_level, median
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
    if len(earlier) < 5:  # an event in the first steps: compare with where the window began
        earlier, recent = recent[:1], recent[1:]
    if len(recent) < 2 or len(earlier) < 1:
        return 0.0, ""
    base = median(earlier)
    # The level climbs, not one noisy batch (the median, or the end of a short window), and
    # by a share of the start: near zero, 0.01 -> 0.03 is noise, not a climb.
    level = median(recent) if len(recent) >= 5 else float(recent[-1])
    floor = params.get("min_rise_of_initial", 0.0) * abs(_initial(run))
    if base > 0 and level >= (1 + params.get("min_rise", 0.5)) * base and level - base >= floor:
        return 1.0, f"loss climbed {fmt(base)} -> {fmt(level)} before step {event.step}"
    return 0.0, ""


def _initial(run: Run) -> float:
    _, loss = finite_points(run.series("loss"))
    return initial_level(loss) if len(loss) else 0.0


def collapsed_before(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """Right before the event the loss had collapsed to `fraction` of its initial level or
    below: a probability at 0 or 1, where log(0) and 0 * log(0) wait."""
    if not run.has("loss") or event.step is None:
        return 0.0, ""
    _, recent = before(run, "loss", event.step, params.get("points", 5))
    initial = _initial(run)
    if len(recent) and initial > 0 and median(recent) <= params.get("fraction", 0.01) * initial:
        return 1.0, f"loss had collapsed to {fmt(median(recent))} (from {fmt(initial)}) before step {event.step}"
    return 0.0, ""


def initial_large(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The first logged loss is `value` or more: a fresh network's loss is O(1) (ln k for k
    classes, about the target variance for standardised regression), so weights (or inputs)
    start on the wrong scale."""
    if not run.has("loss"):
        return 0.0, ""
    _, loss = finite_points(run.series("loss"))
    if len(loss) and loss[0] >= params.get("value", 100.0):
        return 1.0, f"first logged loss {fmt(float(loss[0]))}"
    return 0.0, ""


def steady_before(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The loss was finite and calm right up to the event: it broke suddenly."""
    strength, _ = rising_before(run, event, params)
    _, recent = before(run, "loss", event.step, params.get("points", 20))
    if strength == 0.0 and len(recent) >= 3:
        return 1.0, f"loss steady at {fmt(median(recent))} right before step {event.step}"
    return 0.0, ""


def near_chance(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The final loss sits within `rel_tol` of ln(k) for an integer k in [2, max_k]."""
    if not run.has("loss"):
        return 0.0, ""
    _, loss = finite_points(run.series("loss"))
    if len(loss) < 5:
        return 0.0, ""
    level = median(loss[-max(1, len(loss) // 4) :])
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
    a, b = median(tail[:half]), median(tail[half:])
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
    start, end = median(loss[:edge]), median(loss[-edge:])
    if start > 0 and end <= params.get("fraction", 0.1) * start:
        return 1.0, f"train loss {fmt(start)} -> {fmt(end)}"
    return 0.0, ""


def first_nonfinite_is_inf(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The loss's first non-finite value is +-Inf (an overflow or log(0)), not NaN."""
    if not run.has("loss"):
        return 0.0, ""
    values = run.series("loss").to_numpy(dtype="float64", copy=False)
    bad = np.flatnonzero(~np.isfinite(values))
    if not len(bad) or not np.isinf(values[bad[0]]):
        return 0.0, ""
    last = values[bad[0] - 1] if bad[0] > 0 else None
    if last is not None and abs(last) >= params.get("overflow_factor", 100.0) * max(abs(_initial(run)), 1e-12):
        return 0.0, ""  # the loss grew huge first: an overflow of a blow-up, not log(0)
    return 1.0, f"loss first became {values[bad[0]]:+} from a normal level (log(0), division by 0), not NaN"


def on_softmax_floor(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    k = event.stats.get("softmax_floor_k")
    if k is None:
        return 0.0, ""
    return 1.0, (f"the loss converged onto the floor of a softmax fed to CrossEntropyLoss for {k} classes "
                 "(probabilities used as logits)")
