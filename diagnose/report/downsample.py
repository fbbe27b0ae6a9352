"""Signals shrunk to a few dozen points for sparklines, non-finite stretches kept visible."""

from __future__ import annotations

import numpy as np
import pandas as pd


def downsample(series: pd.Series, points: int = 80) -> tuple[list[int], list[float]]:
    """Block medians of the finite values; a block holding any NaN/Inf shows as NaN/Inf."""
    values = series.to_numpy(dtype="float64", copy=False)
    steps = series.index.to_numpy()
    n = len(values)
    if n == 0:
        return [], []
    size = max(1, -(-n // points))
    out_steps, out_values = [], []
    for start in range(0, n, size):
        block = values[start : start + size]
        finite = block[np.isfinite(block)]
        if len(finite) < len(block):
            bad = block[~np.isfinite(block)]
            out_values.append(float(np.nan if np.isnan(bad).any() else bad[0]))
        else:
            out_values.append(float(np.median(finite)))
        out_steps.append(int(steps[start]))
    return out_steps, out_values
