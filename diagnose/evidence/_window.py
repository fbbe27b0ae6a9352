"""Slices of a signal around an event, shared by evidence functions."""

from __future__ import annotations

import numpy as np

from diagnose.detectors.common import finite_points
from diagnose.run import Run

_EMPTY = (np.empty(0, dtype=np.int64), np.empty(0))


def _points(run: Run, signal: str) -> tuple[np.ndarray, np.ndarray]:
    """A signal the run lacks is an empty window: the evidence simply does not hold."""
    return finite_points(run.series(signal)) if run.has(signal) else _EMPTY


def before(run: Run, signal: str, step: int | None, points: int) -> tuple[np.ndarray, np.ndarray]:
    """The finite points of `signal` in the `points` logged points up to and including `step`."""
    steps, values = _points(run, signal)
    end = int(np.searchsorted(steps, step, side="right")) if step is not None else len(steps)
    lo = max(0, end - points)
    return steps[lo:end], values[lo:end]


def history(run: Run, signal: str, step: int | None, skip: int, points: int) -> np.ndarray:
    """Finite values in the `points` logged points that end `skip` points before `step`."""
    steps, values = _points(run, signal)
    end = int(np.searchsorted(steps, step, side="left")) if step is not None else len(steps)
    end = max(0, end - skip)
    return values[max(0, end - points) : end]
