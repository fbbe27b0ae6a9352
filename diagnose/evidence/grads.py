"""Evidence from gradient norms: surges before events, layer structure, recurrent layers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from diagnose.detectors.base import Event
from diagnose.detectors.common import fmt, global_grad_norm, median
from diagnose.evidence._window import before, history
from diagnose.run import Run


def _grad_run(run: Run) -> Run | None:
    grad = global_grad_norm(run)
    if grad is None:
        return None
    return Run(signals={"grad_norm": grad}) if not run.has("grad_norm") else run


def surge_before(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The grad norm in the `points` logged points up to the event (or its peak) reached
    `factor` x its median over the `history` points before that, or went non-finite."""
    grad_run = _grad_run(run)
    if grad_run is None or event.step is None:
        return 0.0, ""
    until = event.stats.get("peak_step", event.step) if params.get("to_peak") else event.step
    window = params.get("points", 10)
    _, recent = before(grad_run, "grad_norm", until, window)
    earlier = history(grad_run, "grad_norm", until, window, params.get("history", 200))
    raw = grad_run.series("grad_norm")
    # Strictly before: a NaN batch turns loss and gradient non-finite at the same step, and
    # that is no gradient blow-up.
    nonfinite_before = bool(
        (~np.isfinite(raw.loc[max(raw.index.min(), until - window) : until - 1].to_numpy())).any()
    )
    if nonfinite_before:
        return 1.0, f"grad_norm went non-finite before step {until}"
    if len(earlier) < 5:  # an event in the first steps: compare with where the window began
        earlier, recent = recent[:1], recent[1:]
    if len(recent) == 0 or len(earlier) == 0:
        return 0.0, ""
    base = median(earlier)
    ratio = float(recent.max() / base) if base > 0 else float("inf")
    if ratio >= params.get("factor", 5.0):
        return 1.0, f"grad_norm x{fmt(ratio)} over its median {fmt(base)} before step {until}"
    return 0.0, ""


def early_layers_small(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The first layer's median grad norm is `orders` decades below the last layer's."""
    layers = [n for n in run.layer_names if "weight" in n or "kernel" in n] or run.layer_names
    if len(layers) < 2:
        return 0.0, ""
    first, last = run.series(layers[0]).median(), run.series(layers[-1]).median()
    if not (first >= 0 and last > 0):
        return 0.0, ""
    if first <= last * 10 ** -params.get("orders", 2.0):
        return 1.0, f"first layer grad {fmt(first)} vs last {fmt(last)}"
    return 0.0, ""


def layers_uniform(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """All layers' grad norms are within `orders` decades of each other (nothing depth-specific)."""
    layers = run.layer_names
    if len(layers) < 2:
        return 0.0, ""
    medians = np.array([run.series(n).median() for n in layers], dtype=float)
    medians = medians[np.isfinite(medians) & (medians > 0)]
    if len(medians) >= 2 and np.log10(medians.max() / medians.min()) <= params.get("orders", 1.0):
        return 1.0, f"per-layer grad norms within {fmt(medians.max() / medians.min())}x of each other"
    return 0.0, ""


RECURRENT = re.compile(r"(rnn|lstm|gru|weight_hh|recurrent)", re.IGNORECASE)


def recurrent_layers(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The per-layer names show a recurrent network (RNN/LSTM/GRU)."""
    names = [n for n in run.layer_names if RECURRENT.search(n)]
    return (1.0, f"recurrent layers: {names[0].split('/', 1)[1]}") if names else (0.0, "")


def deep_network(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """At least `min_layers` weight matrices are logged: a deep stack."""
    layers = [n for n in run.layer_names if "weight" in n or "kernel" in n] or run.layer_names
    if len(layers) >= params.get("min_layers", 6):
        return 1.0, f"{len(layers)} weight layers"
    return 0.0, ""
