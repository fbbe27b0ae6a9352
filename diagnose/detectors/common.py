"""Numeric helpers shared by detectors: finite views, block statistics, number formatting.

Block statistics (median of consecutive blocks) stand in for rolling windows: they are
vectorised reshapes, O(n), so a 10-million-step log costs a few numpy passes.
"""

from __future__ import annotations

import math
import weakref

import numpy as np
import pandas as pd

from diagnose.run import Run

_FINITE_CACHE: dict[int, tuple[weakref.ref, tuple[np.ndarray, np.ndarray]]] = {}


def finite_points(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values (float64) of the finite points of a signal.

    A dozen rules and their evidence ask this of the same few signals; on a 10-million-step
    log each answer costs ~200 MB of copies, so it is computed once per series object.
    Callers must not modify the arrays.
    """
    cached = _FINITE_CACHE.get(id(series))
    if cached is not None and cached[0]() is series:
        return cached[1]
    values = series.to_numpy(dtype="float64", copy=False)
    mask = np.isfinite(values)
    steps = series.index.to_numpy()
    result = (steps, values) if mask.all() else (steps[mask], values[mask])  # no copy if all finite
    key = id(series)
    _FINITE_CACHE[key] = (weakref.ref(series, lambda _: _FINITE_CACHE.pop(key, None)), result)
    return result


#: Above this many points a median or percentile that stands for a *level* is taken from a
#: fixed pseudo-random sample: its error (well under 1% of the spread) is far below any
#: threshold in rules/, and a 10-million-step log then costs a sample, not a partition of
#: the whole signal. Shorter signals, every sample log and benchmark run among them, are exact.
SAMPLE_POINTS = 1 << 16
#: Likewise the points per block behind a block median.
BLOCK_SAMPLE_POINTS = 4096


def sample(values: np.ndarray, points: int = SAMPLE_POINTS) -> np.ndarray:
    """`values` itself when short, else `points` of them drawn at fixed pseudo-random places
    (random rather than strided, so a periodic pattern in the log cannot alias)."""
    values = np.asarray(values)
    where = sample_places(len(values), points)
    return values if where is None else values[where]


def sample_places(n: int, points: int = SAMPLE_POINTS) -> np.ndarray | None:
    """The indices `sample` draws from n values; None when it keeps them all."""
    return None if n <= points else np.random.default_rng(n).integers(0, n, points)


def median(values: np.ndarray) -> float:
    return float(np.median(sample(values)))


def percentile(values: np.ndarray, q: list[float]) -> np.ndarray:
    return np.percentile(sample(values), q)


#: Points behind "where a signal started", at most: in a 50,000-step run the first 5% is
#: already trained, and a rule asking "is the loss still near its start" would say yes.
INITIAL_POINTS = 100


def initial_level(values: np.ndarray) -> float:
    """Where a signal started: the median of its first 5% (at least 3, at most 100 points)."""
    return median(values[: max(3, min(len(values) // 20, INITIAL_POINTS))])


def block_size(n: int, n_blocks: int, minimum: int = 1) -> int:
    return max(minimum, n // max(1, n_blocks))


def row_medians(blocks: np.ndarray) -> np.ndarray:
    """Median of each row of a 2-D array of finite values (the upper one for even widths).

    np.median(axis=1) costs several times one partition on many short rows, and detectors
    do this over whole 10-million-step logs; a robust baseline does not need the midpoint.
    """
    if blocks.shape[1] == 0:
        return np.full(blocks.shape[0], np.nan)
    middle = blocks.shape[1] // 2
    return np.partition(blocks, middle, axis=1)[:, middle]


def block_medians(values: np.ndarray, size: int) -> np.ndarray:
    """Median of each consecutive block of `size` points (the last, partial block included)."""
    n = len(values)
    if n == 0:
        return np.empty(0)
    full = n // size
    medians = []
    if full:
        medians.append(row_medians(sample_columns(values[: full * size].reshape(full, size))))
    if n % size:
        medians.append(np.array([median(values[full * size :])]))
    return np.concatenate(medians)


def sample_columns(blocks: np.ndarray, points: int = BLOCK_SAMPLE_POINTS) -> np.ndarray:
    """The same `points` pseudo-random columns of every row when the rows are wider."""
    width = blocks.shape[1]
    if width <= points:
        return blocks
    columns = np.sort(np.random.default_rng(width).choice(width, points, replace=False))
    return blocks[:, columns]


#: Values handled per pass by the block statistics: a few MB of scratch that stays in cache.
_SCRATCH_VALUES = 1 << 18


def block_upper_medians(values: np.ndarray, size: int) -> np.ndarray:
    """Upper median (as row_medians) of each complete block of `size` points. A few thousand
    blocks at a time go through one small scratch buffer: a 10-million-step signal costs no
    n-sized copy (first touch of fresh memory costs more than the copy itself)."""
    full = len(values) // size
    blocks = values[: full * size].reshape(full, size)
    medians = np.empty(full)
    rows = max(1, _SCRATCH_VALUES // max(1, size))
    scratch = np.empty((min(rows, full), size))
    for start in range(0, full, rows):
        work = scratch[: min(full, start + rows) - start]
        work[...] = blocks[start : start + len(work)]
        work.partition(size // 2, axis=1)
        medians[start : start + len(work)] = work[:, size // 2]
    return medians


def block_sigmas(values: np.ndarray, size: int, medians: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Robust sigma (1.4826 x the upper median absolute deviation from `medians`) of the
    complete blocks of `size` points listed in `rows`."""
    blocks = values[: len(medians) * size].reshape(len(medians), size)
    sigmas = np.empty(len(rows))
    step = max(1, _SCRATCH_VALUES // max(1, size))
    for start in range(0, len(rows), step):
        chosen = rows[start : start + step]
        work = np.abs(blocks[chosen] - medians[chosen, None])
        work.partition(size // 2, axis=1)
        sigmas[start : start + len(chosen)] = work[:, size // 2]
    return 1.4826 * sigmas


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


def index_runs(indices: np.ndarray, max_gap: int = 0) -> list[tuple[int, int]]:
    """[start, end] ranges of sorted indices, merging runs separated by <= max_gap."""
    if len(indices) == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) > max_gap + 1)
    starts = np.concatenate(([indices[0]], indices[breaks + 1]))
    ends = np.concatenate((indices[breaks], [indices[-1]]))
    return list(zip(starts.tolist(), ends.tolist()))
