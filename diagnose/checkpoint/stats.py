"""Per-tensor statistics streamed one chunk at a time (bounded memory for any tensor size).

A float32 or float64 chunk's sum of squares is one BLAS dot product of the chunk with itself
(4x faster than squaring into a buffer and summing, measured): within a chunk of 2^18 float32
values its relative error is ~1e-6, far below anything the checks compare, and chunks add up
in float64. Other dtypes are squared into a float64 buffer and summed. Chunks of a large tensor
run on a few threads (numpy releases the GIL) and merge in order, so results are deterministic.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from diagnose.checkpoint.tensors import TensorSource, numel

CHUNK = 1 << 18  # elements per read: the chunk and its float64 square stay in L2 cache
_local = threading.local()
_pool: ThreadPoolExecutor | None = None


@dataclass(frozen=True)
class TensorStats:
    """numel, non-finite count, and sum of squares / abs max / min / max over the finite values
    (the last three stay at their identity values when a stream did not ask for extremes)."""

    numel: int = 0
    nonfinite: int = 0
    sumsq: float = 0.0
    absmax: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf

    @property
    def finite(self) -> int:
        return self.numel - self.nonfinite

    @property
    def rms(self) -> float:
        return math.sqrt(self.sumsq / self.finite) if self.finite else math.nan

    @property
    def norm(self) -> float:
        return math.sqrt(self.sumsq)

    def __add__(self, other: TensorStats) -> TensorStats:
        return TensorStats(self.numel + other.numel, self.nonfinite + other.nonfinite,
                           self.sumsq + other.sumsq, max(self.absmax, other.absmax),
                           min(self.minimum, other.minimum), max(self.maximum, other.maximum))


def chunk_stats(x: np.ndarray, extremes: bool = False) -> TensorStats:
    """Statistics of one 1-D float chunk; min, max and abs max only with `extremes` (two more
    passes over the chunk, wanted for few tensors: a NaN or Inf already shows in the sum)."""
    if x.size == 0:
        return TensorStats()
    if x.dtype in (np.float32, np.float64):
        with np.errstate(over="ignore"):  # squares beyond float32 overflow to inf: the path below
            sumsq = float(np.dot(x, x))
    else:
        squares = _scratch(x.size)
        np.square(x, out=squares, dtype=np.float64)
        sumsq = float(squares.sum())
    if not extremes and math.isfinite(sumsq):
        return TensorStats(x.size, 0, sumsq)
    hi, lo = float(x.max()), float(x.min())
    if math.isfinite(sumsq) and math.isfinite(hi) and math.isfinite(lo):
        return TensorStats(x.size, 0, sumsq, max(hi, -lo), lo, hi)
    return _stats_with_nonfinite(x)


def _stats_with_nonfinite(x: np.ndarray) -> TensorStats:
    finite = x[np.isfinite(x)].astype(np.float64)
    if finite.size == 0:
        return TensorStats(x.size, x.size)
    absmax = float(np.abs(finite).max())
    # Scaled, so float64 values above 1e154 do not overflow their squares.
    sumsq = float(np.square(finite / absmax).sum()) * absmax ** 2 if absmax else 0.0
    return TensorStats(x.size, x.size - finite.size, sumsq, absmax, float(finite.min()), float(finite.max()))


def _scratch(size: int) -> np.ndarray:
    buffer = getattr(_local, "scratch", None)
    if buffer is None or buffer.size < size:
        buffer = _local.scratch = np.empty(max(size, CHUNK))
    return buffer[:size]


Combine = Callable[..., np.ndarray]


def stream_stats(inputs: Sequence[tuple[TensorSource, str]], combine: Combine | None = None,
                 chunk: int = CHUNK, extremes: bool = False) -> TensorStats:
    """Statistics of one tensor, or of `combine(a, b, ...)` applied elementwise to same-shaped
    tensors (e.g. the difference of a weight in two checkpoints), one chunk at a time."""
    total = numel(inputs[0][0].shape(inputs[0][1]))

    def one(start: int) -> TensorStats:
        count = min(chunk, total - start)
        parts = [source.read(name, start, count) for source, name in inputs]
        # A read may reuse its source's buffer: keep copies of all but the last one.
        parts = [np.array(p) for p in parts[:-1]] + parts[-1:]
        with np.errstate(all="ignore"):  # inf - inf, sqrt(-1): counted as non-finite, not news
            return chunk_stats(combine(*parts) if combine else parts[0], extremes)

    starts = range(0, total, chunk)
    parts = _workers().map(one, starts) if len(starts) > 1 else map(one, starts)
    return sum(parts, TensorStats())


def _workers() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1),
                                   thread_name_prefix="diagnose-stats")
    return _pool
