"""Slices of a signal around an event, shared by evidence functions."""

from __future__ import annotations

import numpy as np

from diagnose.detectors.common import finite_points
from diagnose.run import Run


def before(run: Run, signal: str, step: int | None, points: int) -> tuple[np.ndarray, np.ndarray]:
    """The finite points of `signal` in the `points` logged points up to and including `step`."""
    steps, values = finite_points(run.series(signal))
    end = int(np.searchsorted(steps, step, side="right")) if step is not None else len(steps)
    lo = max(0, end - points)
    return steps[lo:end], values[lo:end]


def history(run: Run, signal: str, step: int | None, skip: int, points: int) -> np.ndarray:
    """Finite values in the `points` logged points that end `skip` points before `step`."""
    steps, values = finite_points(run.series(signal))
    end = int(np.searchsorted(steps, step, side="left")) if step is not None else len(steps)
    end = max(0, end - skip)
    return values[max(0, end - points) : end]
