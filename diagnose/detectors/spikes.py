"""Cliff-like jumps of a signal against a robust trailing baseline (median and MAD)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from diagnose.detectors.base import Event
from diagnose.detectors.common import (
    block_sigmas,
    block_upper_medians,
    finite_points,
    fmt,
    index_runs,
    median,
)
from diagnose.run import Run


def robust_jump(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """Points far above the median of the previous window, grouped into events.

    params: signal, window (points per baseline block), min_z (robust z-score), min_ratio
    (value / baseline, for positive signals), min_jump_of_initial (peak - baseline at least
    this fraction of the run's initial level), rel_floor (sigma is at least this fraction of
    the baseline, so a near-constant loss does not turn noise into huge z), merge_gap (points),
    recover_points (how far after a spike to look for recovery), recover_tolerance (back within
    this fraction above baseline counts as recovered), benign_ratio and benign_recovery_points
    (a spike back within that many points and below that ratio, or below
    benign_peak_of_initial x the run's initial level, is a benign bump), max_events.
    """
    signal = params.get("signal", "loss")
    steps, values = finite_points(run.series(signal))
    window = int(min(params.get("window", 50), max(5, len(values) // 8)))
    if len(values) < 2 * window:
        return []
    baseline = _Baseline(values, window, params)
    initial = median(values[:5])  # the untrained level
    min_jump = params.get("min_jump_of_initial", 0.0) * abs(initial)
    events = []
    for start, end in index_runs(baseline.candidates(values), params.get("merge_gap", 3)):
        event = _spike_event(signal, steps, values, baseline, start, end, params, initial)
        # Once the loss is near 0, one hard batch is x10 its level yet no cliff: the jump must
        # also be a fair share of where the run started.
        if event.stats["peak"] - event.stats["baseline"] >= min_jump:
            events.append(event)
    events.sort(key=lambda e: -e.stats["z"])
    return sorted(events[: params.get("max_events", 5)], key=lambda e: e.step)


class _Baseline:
    """Each point's baseline: the median and robust sigma of the block before its own.

    Every block's median is needed; its sigma only where the next block reaches the part of
    the threshold that does not depend on sigma (rel_floor, min_ratio). Elsewhere no point can
    be a candidate, so those sigmas are computed only if an event asks for them.
    """

    def __init__(self, values: np.ndarray, window: int, params: Mapping[str, Any]) -> None:
        self.values, self.window = values, window
        self.median = block_upper_medians(values, window)
        self.floor = params.get("rel_floor", 0.02) * np.abs(self.median)
        self.min_z = params.get("min_z", 8.0)
        lowest = self.median + self.min_z * self.floor
        self.ratio_floor = np.where(self.median > 0, params.get("min_ratio", 2.0) * self.median, -np.inf)
        lowest = np.fmax(lowest, self.ratio_floor)
        self.sigma = np.full(len(self.median), np.nan)
        self._fill_sigma(np.flatnonzero(self._next_block_peaks(values) > lowest))

    def _next_block_peaks(self, values: np.ndarray) -> np.ndarray:
        """For each block, the largest point its baseline is compared with (the next block's,
        or the tail's for the last block)."""
        full, window = len(self.median), self.window
        tail = values[full * window :]
        peaks = np.full(full, -np.inf)
        if full > 1:
            peaks[:-1] = values[window : full * window].reshape(full - 1, window).max(axis=1)
        if len(tail):
            peaks[-1] = tail.max()
        return peaks

    def _fill_sigma(self, rows: np.ndarray) -> None:
        rows = rows[np.isnan(self.sigma[rows])]
        if len(rows):
            self.sigma[rows] = block_sigmas(self.values, self.window, self.median, rows)

    def _scale(self, rows: np.ndarray) -> np.ndarray:
        self._fill_sigma(rows)
        return np.fmax(self.sigma[rows], self.floor[rows])

    def _threshold(self, rows: np.ndarray) -> np.ndarray:
        scale = self._scale(rows)
        threshold = np.fmax(self.median[rows] + self.min_z * scale, self.ratio_floor[rows])
        return np.where(scale > 0, threshold, np.inf)

    def block_of(self, index: int) -> int:
        return min(index // self.window, len(self.median)) - 1

    def median_at(self, index: int) -> float:
        return float(self.median[self.block_of(index)])

    def z_at(self, index: int, value: float) -> float:
        block = self.block_of(index)
        return float((value - self.median[block]) / self._scale(np.array([block]))[0])

    def candidates(self, values: np.ndarray) -> np.ndarray:
        """Indices above their baseline's threshold, looked for only in the blocks after those
        whose sigma was needed (no n-sized comparison)."""
        full, window = len(self.median), self.window
        rows = np.flatnonzero(~np.isnan(self.sigma))
        threshold = self._threshold(rows)
        inner = rows < full - 1
        blocks = values[window : full * window].reshape(full - 1, window)
        row, column = np.nonzero(blocks[rows[inner]] > threshold[inner, None])
        hits = (rows[inner][row] + 1) * window + column
        if len(rows) and rows[-1] == full - 1:
            tail = np.flatnonzero(values[full * window :] > threshold[-1]) + full * window
            hits = np.concatenate([hits, tail])
        return hits


def _spike_event(signal, steps, values, reference: _Baseline, start, end, params, initial: float) -> Event:
    peak = start + int(np.argmax(values[start : end + 1]))
    baseline = reference.median_at(start)
    peak_z = reference.z_at(peak, values[peak])
    tolerance = params.get("recover_tolerance", 0.25) * abs(baseline)
    after = values[end + 1 : end + 1 + params.get("recover_points", 50)]
    back = np.flatnonzero(after <= baseline + tolerance)
    recovered = len(back) > 0
    ratio = float(values[peak] / baseline) if baseline > 0 else float("inf")
    # A bump that comes straight back and stays below x3 its level, or below the loss the
    # untrained model started at, is one hard batch, not a cliff.
    benign = bool(
        recovered
        and back[0] + (end - peak) < params.get("benign_recovery_points", 10)
        and (ratio < params.get("benign_ratio", 3.0)
             or values[peak] < params.get("benign_peak_of_initial", 1.0) * initial)
    )
    evidence = [
        f"{signal} {fmt(baseline)} -> {fmt(values[peak])} (x{fmt(ratio)}, z={fmt(peak_z)}) "
        f"at step {int(steps[peak])}",
        f"recovered to {fmt(after[back[0]])} by step {int(steps[end + 1 + back[0]])}"
        if recovered
        else "did not come back to its earlier level",
    ]
    return Event(
        step=int(steps[start]),
        end_step=int(steps[end]),
        confidence=float(min(1.0, 0.5 + peak_z / (4 * params.get("min_z", 8.0)))),
        evidence=evidence,
        signal=signal,
        stats={
            "baseline": baseline,
            "peak": float(values[peak]),
            "peak_step": int(steps[peak]),
            "ratio": ratio,
            "z": float(peak_z),
            "recovered": recovered,
            "benign": benign,
            "recovery_steps": int(steps[end + 1 + back[0]] - steps[peak]) if recovered else None,
        },
    )
