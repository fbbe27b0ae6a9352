"""Signals shrunk to a few dozen points for sparklines, non-finite stretches kept visible."""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnose.detectors.common import row_medians, sample_columns

#: Points per block behind each drawn median: a point on a sparkline or a plot needs the
#: block's level to a few percent of its spread, not exactly (4,096 cost 0.2 s on 10M steps).
DRAWN_BLOCK_POINTS = 512


def downsample(series: pd.Series, points: int = 80) -> tuple[list[int], list[float]]:
    """Block medians; a block holding any NaN/Inf shows as NaN (or its first Inf)."""
    values = series.to_numpy(dtype="float64", copy=False)
    steps = series.index.to_numpy()
    n = len(values)
    if n == 0:
        return [], []
    size = max(1, -(-n // points))
    out = [_block_values(values[: n - n % size].reshape(-1, size))] if n >= size else []
    if n % size:
        out.append(_block_values(values[n - n % size :].reshape(1, -1)))
    return [int(s) for s in steps[::size]], np.concatenate(out).tolist()


def _block_values(blocks: np.ndarray) -> np.ndarray:
    # NaN and Inf carry into a row's sum, so one summing pass finds the clean rows without an
    # n-sized mask; a row whose sum overflowed to Inf gets an exact look.
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308s and +-Inf are expected here
        clean = np.isfinite(blocks.sum(axis=1))
    for row in np.flatnonzero(~clean):
        clean[row] = np.isfinite(blocks[row]).all()
    result = np.empty(len(blocks))
    result[clean] = row_medians(sample_columns(blocks, DRAWN_BLOCK_POINTS)[clean]) if clean.any() else []
    for row in np.flatnonzero(~clean):
        bad = blocks[row][~np.isfinite(blocks[row])]
        result[row] = np.nan if np.isnan(bad).any() else bad[0]
    return result
