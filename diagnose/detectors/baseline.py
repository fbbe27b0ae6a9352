"""Regressions against a known-good run of the same job (`--baseline`): the loss at matched
steps, the final loss, and the gradient scale."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from diagnose.detectors.base import Event
from diagnose.detectors.common import finite_points, fmt, median
from diagnose.run import Run


def regression(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """The loss, compared block by block over the steps both runs logged, is worse by more
    than `max_final_rise` at the end or `max_median_rise` overall.

    params: n_blocks, max_final_rise, max_median_rise, grad_ratio (flag a gradient scale this
    many times the baseline's, or below its inverse), severe_rise (final rise that is an error).
    """
    baseline: Run | None = run.meta.get("baseline")
    if baseline is None or not baseline.has("loss") or not run.has("loss"):
        return []
    ours, theirs = _matched_blocks(run, baseline, params.get("n_blocks", 20))
    if ours is None:
        return []
    scale = np.maximum(np.abs(theirs), 1e-12)
    rise = (ours - theirs) / scale
    final_rise, median_rise = float(rise[-1][1]), median(rise[:, 1])
    if final_rise <= params.get("max_final_rise", 0.1) and median_rise <= params.get("max_median_rise", 0.2):
        return []
    worst = int(np.argmax(rise[:, 1]))
    steps = ours[:, 0].astype(int)
    evidence = [
        f"final loss {fmt(ours[-1][1])} vs baseline {fmt(theirs[-1][1])} ({final_rise:+.0%}) at step {steps[-1]}",
        f"loss {median_rise:+.0%} vs baseline at the median matched step; worst {fmt(rise[worst][1] * 100)}% "
        f"around step {steps[worst]}",
    ]
    grad_ratio = _grad_ratio(run, baseline)
    if grad_ratio is not None:
        evidence.append(f"grad_norm x{fmt(grad_ratio)} the baseline's median")
    return [Event(
        step=int(steps[_first_worse(rise[:, 1], params)]), end_step=int(steps[-1]),
        confidence=float(min(1.0, 0.5 + abs(final_rise))), evidence=evidence, signal="loss",
        stats={"final_rise": final_rise, "median_rise": median_rise, "grad_ratio": grad_ratio,
               "severe": final_rise > params.get("severe_rise", 0.5),
               "grad_scale_changed": grad_ratio is not None and not
               (1 / params.get("grad_ratio", 3.0) < grad_ratio < params.get("grad_ratio", 3.0)),
               "baseline": baseline.source},
    )]


def _matched_blocks(run: Run, baseline: Run, n_blocks: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(step, median loss) per block of the step range both runs cover, for each run."""
    steps_a, loss_a = finite_points(run.series("loss"))
    steps_b, loss_b = finite_points(baseline.series("loss"))
    if len(steps_a) < 2 or len(steps_b) < 2:
        return None, None
    low, high = max(steps_a[0], steps_b[0]), min(steps_a[-1], steps_b[-1])
    if high <= low:
        return None, None
    edges = np.linspace(low, high, n_blocks + 1)
    ours, theirs = [], []
    for start, end in zip(edges[:-1], edges[1:]):
        in_a = loss_a[(steps_a >= start) & (steps_a <= end)]
        in_b = loss_b[(steps_b >= start) & (steps_b <= end)]
        if len(in_a) and len(in_b):
            ours.append((end, median(in_a)))
            theirs.append((end, median(in_b)))
    if len(ours) < 2:
        return None, None
    return np.asarray(ours), np.asarray(theirs)


def _first_worse(rise: np.ndarray, params: Mapping[str, Any]) -> int:
    worse = np.flatnonzero(rise > params.get("max_median_rise", 0.2))
    return int(worse[0]) if len(worse) else len(rise) - 1


def _grad_ratio(run: Run, baseline: Run) -> float | None:
    if not (run.has("grad_norm") and baseline.has("grad_norm")):
        return None
    ours, theirs = finite_points(run.series("grad_norm"))[1], finite_points(baseline.series("grad_norm"))[1]
    if not len(ours) or not len(theirs) or median(theirs) <= 0:
        return None
    return float(median(ours) / median(theirs))
