"""NaN and Inf in any logged signal: never dropped, never averaged away."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from diagnose.detectors.base import Event
from diagnose.run import Run


def first_nonfinite(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """One event from the first non-finite value of any watched signal to the last one.

    params: signals (names; "grad_norm/*" means every per-layer norm), counters (signals that
    count NaN iterations, e.g. nan_steps, where any value > 0 is itself a non-finite event).
    """
    hits: dict[str, tuple[int, int, int, int]] = {}  # name -> first, last, count, logged
    for name in _watched(run, params.get("signals", ["loss", "grad_norm"])):
        series = run.series(name)
        values = series.to_numpy(dtype="float64", copy=False)
        bad = ~np.isfinite(values)
        if bad.any():
            steps = series.index.to_numpy()[bad]
            hits[name] = (int(steps[0]), int(steps[-1]), int(bad.sum()), len(values))
    for name in params.get("counters", []):
        if run.has(name):
            series = run.series(name)
            bad = series.to_numpy(dtype="float64", copy=False) > 0
            if bad.any():
                steps = series.index.to_numpy()[bad]
                hits[name] = (int(steps[0]), int(steps[-1]), int(bad.sum()), len(series))
    if not hits:
        return []
    first = min(h[0] for h in hits.values())
    last = max(h[1] for h in hits.values())
    order = sorted(hits, key=lambda n: hits[n][0])
    evidence = [
        f"{name}: first non-finite at step {hits[name][0]}, "
        f"{hits[name][2]} of {hits[name][3]} logged values non-finite"
        for name in order
    ]
    return [
        Event(
            step=first,
            end_step=last,
            confidence=1.0,
            evidence=evidence,
            signal=order[0],
            stats={
                "first_signal": order[0],
                "signals": order,
                "count": sum(h[2] for h in hits.values()),
                "first_layer_signal": next((n for n in order if n.startswith("grad_norm/")), None),
            },
        )
    ]


def _watched(run: Run, patterns: list[str]) -> list[str]:
    names: list[str] = []
    for pattern in patterns:
        if pattern.endswith("*"):
            names += [n for n in run.names if n.startswith(pattern[:-1])]
        elif run.has(pattern):
            names.append(pattern)
    return names
