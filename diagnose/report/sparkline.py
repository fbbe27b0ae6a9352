"""Unicode sparklines of downsampled signals, and the marker line that points at findings."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

BARS = "▁▂▃▄▅▆▇█"
NAN_MARK = "×"
POS_INF_MARK = "↑"
NEG_INF_MARK = "↓"


def sparkline(values: Sequence[float], log: bool = False) -> str:
    """One bar per value, scaled between the finite min and max.

    NaN shows as ×, +Inf as ↑, -Inf as ↓; a constant signal is a flat middle line. With
    `log=True` (gradient norms spanning orders of magnitude) bars follow log10 of the positive
    values; zero or negative values sit at the bottom.
    """
    scaled = [_scale(v, log) for v in values]
    finite = [s for s in scaled if s is not None and math.isfinite(s)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    return "".join(_bar(v, s, lo, hi) for v, s in zip(values, scaled))


def _scale(value: float, log: bool) -> float | None:
    """The value on the drawing scale; None for a value below the log scale (<= 0)."""
    if not log or not math.isfinite(value):
        return value
    return math.log10(value) if value > 0 else None


def _bar(value: float, scaled: float | None, lo: float, hi: float) -> str:
    if math.isnan(value):
        return NAN_MARK
    if math.isinf(value):
        return POS_INF_MARK if value > 0 else NEG_INF_MARK
    if scaled is None:
        return BARS[0]
    if hi == lo:
        return BARS[len(BARS) // 2 - 1]
    # Halved first so that a range of +-1e308 does not overflow to inf.
    fraction = (scaled / 2 - lo / 2) / (hi / 2 - lo / 2)
    return BARS[round(min(1.0, max(0.0, fraction)) * (len(BARS) - 1))]


def marker_line(steps: Sequence[int], finding_ranges: Sequence[tuple[int | None, int | None]]) -> str:
    """A line as wide as the sparkline with ^ under the points inside each [step, end_step].

    A point stands for the block of steps up to the next point (see downsample), so a range
    that holds no point, like a single-step finding, marks the point whose block holds it.
    """
    marks = [" "] * len(steps)
    if not marks:
        return ""
    points = np.asarray(steps)
    for start, end in finding_ranges:
        if start is None:
            continue
        end = start if end is None else end
        inside = np.flatnonzero((points >= start) & (points <= end))
        if len(inside) == 0:
            inside = [max(0, int(np.searchsorted(points, start, side="right")) - 1)]
        for i in inside:
            marks[i] = "^"
    return "".join(marks)

