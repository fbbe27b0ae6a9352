"""Cliff-like jumps of a signal against a robust trailing baseline (median and MAD)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from diagnose.detectors.base import Event
from diagnose.detectors.common import finite_points, fmt, segments, trailing_baseline
from diagnose.run import Run


def robust_jump(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """Points far above the median of the previous window, grouped into events.

    params: signal, window (points per baseline block), min_z (robust z-score), min_ratio
    (value / baseline, for positive signals), rel_floor (sigma is at least this fraction of
    the baseline, so a near-constant loss does not turn noise into huge z), merge_gap (points),
    recover_points (how far after a spike to look for recovery), recover_tolerance (back within
    this fraction above baseline counts as recovered), benign_ratio and benign_recovery_points
    (a spike below that ratio, back within that many points, is a benign bump), max_events.
    """
    signal = params.get("signal", "loss")
    steps, values = finite_points(run.series(signal))
    window = int(min(params.get("window", 50), max(5, len(values) // 8)))
    if len(values) < 2 * window:
        return []
    median, sigma = trailing_baseline(values, window)
    scale = np.fmax(sigma, params.get("rel_floor", 0.02) * np.abs(median))
    scale = np.where(scale > 0, scale, np.nan)
    z = (values - median) / scale
    ratio_ok = np.where(median > 0, values >= params.get("min_ratio", 2.0) * median, True)
    spiky = (z >= params.get("min_z", 8.0)) & ratio_ok
    events = []
    for start, end in segments(spiky, params.get("merge_gap", 3)):
        events.append(_spike_event(signal, steps, values, median, z, start, end, params))
    events.sort(key=lambda e: -e.stats["z"])
    return sorted(events[: params.get("max_events", 5)], key=lambda e: e.step)


def _spike_event(signal, steps, values, median, z, start, end, params) -> Event:
    peak = start + int(np.argmax(values[start : end + 1]))
    baseline = float(median[start])
    tolerance = params.get("recover_tolerance", 0.25) * abs(baseline)
    after = values[end + 1 : end + 1 + params.get("recover_points", 50)]
    back = np.flatnonzero(after <= baseline + tolerance)
    recovered = len(back) > 0
    ratio = float(values[peak] / baseline) if baseline > 0 else float("inf")
    benign = bool(
        recovered
        and ratio < params.get("benign_ratio", 3.0)
        and back[0] + (end - peak) < params.get("benign_recovery_points", 10)
    )
    evidence = [
        f"{signal} {fmt(baseline)} -> {fmt(values[peak])} (x{fmt(ratio)}, z={fmt(z[peak])}) "
        f"at step {int(steps[peak])}",
        f"recovered to {fmt(after[back[0]])} by step {int(steps[end + 1 + back[0]])}"
        if recovered
        else "did not come back to its earlier level",
    ]
    return Event(
        step=int(steps[start]),
        end_step=int(steps[end]),
        confidence=float(min(1.0, 0.5 + z[peak] / (4 * params.get("min_z", 8.0)))),
        evidence=evidence,
        signal=signal,
        stats={
            "baseline": baseline,
            "peak": float(values[peak]),
            "peak_step": int(steps[peak]),
            "ratio": ratio,
            "z": float(z[peak]),
            "recovered": recovered,
            "benign": benign,
            "recovery_steps": int(steps[end + 1 + back[0]] - steps[peak]) if recovered else None,
        },
    )
