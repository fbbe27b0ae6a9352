"""Cliff-like jumps of a signal against a robust trailing baseline (median and MAD)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from diagnose.detectors.base import Event
from diagnose.detectors.common import (
    block_stats,
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
    """Each point's baseline: the median and robust sigma of the block before its own."""

    def __init__(self, values: np.ndarray, window: int, params: Mapping[str, Any]) -> None:
        self.window = window
        self.median, sigma = block_stats(values, window)
        self.scale = np.fmax(sigma, params.get("rel_floor", 0.02) * np.abs(self.median))
        threshold = self.median + params.get("min_z", 8.0) * self.scale
        ratio_floor = params.get("min_ratio", 2.0) * self.median
        threshold = np.where(self.median > 0, np.fmax(threshold, ratio_floor), threshold)
        self.threshold = np.where(self.scale > 0, threshold, np.inf)

    def block_of(self, index: int) -> int:
        return min(index // self.window, len(self.median)) - 1

    def median_at(self, index: int) -> float:
        return float(self.median[self.block_of(index)])

    def z_at(self, index: int, value: float) -> float:
        block = self.block_of(index)
        return float((value - self.median[block]) / self.scale[block])

    def candidates(self, values: np.ndarray) -> np.ndarray:
        """Indices above their baseline's threshold, compared block-wise (no n-sized copies)."""
        full = len(self.median)
        body = values[self.window : full * self.window].reshape(full - 1, self.window)
        hits = np.flatnonzero(body > self.threshold[:-1, None]) + self.window
        tail = np.flatnonzero(values[full * self.window :] > self.threshold[-1]) + full * self.window
        return np.concatenate([hits, tail])


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
