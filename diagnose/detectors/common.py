"""Numeric helpers shared by detectors: finite views, block statistics, number formatting.

Block statistics (median of consecutive blocks) stand in for rolling windows: they are
vectorised reshapes, O(n), so a 10-million-step log costs a few numpy passes.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from diagnose.run import Run


def finite_points(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values of the finite points of a signal."""
    values = series.to_numpy(dtype="float64", copy=False)
    mask = np.isfinite(values)
    return series.index.to_numpy()[mask], values[mask]


def block_size(n: int, n_blocks: int, minimum: int = 1) -> int:
    return max(minimum, n // max(1, n_blocks))


def block_medians(values: np.ndarray, size: int) -> np.ndarray:
    """Median of each consecutive block of `size` points (the last, partial block included)."""
    n = len(values)
    if n == 0:
        return np.empty(0)
    full = n // size
    medians = []
    if full:
        medians.append(np.median(values[: full * size].reshape(full, size), axis=1))
    if n % size:
        medians.append(np.array([np.median(values[full * size :])]))
    return np.concatenate(medians)


def trailing_baseline(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per point: median and robust sigma (1.4826 MAD) of the previous complete block.

    Points in the first block have no history and get NaN.
    """
    n = len(values)
    full = n // size
    median = np.full(n, np.nan)
    sigma = np.full(n, np.nan)
    if full < 1:
        return median, sigma
    blocks = values[: full * size].reshape(full, size)
    block_median = np.median(blocks, axis=1)
    block_sigma = 1.4826 * np.median(np.abs(blocks - block_median[:, None]), axis=1)
    owner = np.arange(n) // size  # the block each point is in; its baseline is block owner-1
    has_history = owner >= 1
    previous = np.minimum(owner[has_history] - 1, full - 1)
    median[has_history] = block_median[previous]
    sigma[has_history] = block_sigma[previous]
    return median, sigma


def global_grad_norm(run: Run) -> pd.Series | None:
    """The global gradient norm, or the L2 combination of the per-layer norms if only those exist."""
    if run.has("grad_norm"):
        return run.series("grad_norm")
    layers = [run.series(name) for name in run.layer_names]
    if not layers:
        return None
    frame = pd.concat(layers, axis=1, join="inner")
    return np.sqrt((frame**2).sum(axis=1)).rename("grad_norm")


def first_step_where(steps: np.ndarray, mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(steps[hits[0]]) if len(hits) else None


def fmt(x: float) -> str:
    """A number for people: 3 significant digits, scientific when very large or small."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.2e}"
    return f"{x:.3g}"


def segments(mask: np.ndarray, max_gap: int = 0) -> list[tuple[int, int]]:
    """Index ranges [start, end] of True runs in `mask`, merging runs separated by <= max_gap."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]]))
    return list(zip(starts.tolist(), ends.tolist()))
