"""Detection rules other tools publish, from their documented thresholds, as peers to score.

Each baseline reads the same canonical Run diagnose reads and returns the symptoms it
would flag with their first step. COVERS says which symptoms each one claims to detect:
it is scored on those only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from diagnose.run import Run

Flags = dict[str, int]


def _points(run: Run, name: str) -> tuple[np.ndarray, np.ndarray]:
    if not run.has(name):
        return np.empty(0, dtype=np.int64), np.empty(0)
    series = run.series(name)
    return series.index.to_numpy(), series.to_numpy(dtype="float64")


def _first(steps: np.ndarray, mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(steps[hits[0]]) if len(hits) else None


def _flag(flags: Flags, symptom: str, step: int | None) -> None:
    if step is not None:
        flags[symptom] = step


def lightning_spike(run: Run) -> Flags:
    """Lightning's spike detection: a loss above 2x its running mean (window 10) is a spike."""
    steps, loss = _points(run, "loss")
    running = pd.Series(loss).rolling(10, min_periods=10).mean().shift(1).to_numpy()
    flags: Flags = {}
    _flag(flags, "loss_spike", _first(steps, np.isfinite(running) & (loss > 2.0 * running)))
    return flags


def olmo_spike(run: Run) -> Flags:
    """OLMo: a loss more than 6 standard deviations above the mean of the previous 128 steps."""
    steps, loss = _points(run, "loss")
    history = pd.Series(loss).rolling(128, min_periods=128)
    mean, std = history.mean().shift(1).to_numpy(), history.std().shift(1).to_numpy()
    flags: Flags = {}
    _flag(flags, "loss_spike", _first(steps, np.isfinite(mean) & (loss > mean + 6.0 * std)))
    return flags


def zclip(run: Run, alpha: float = 0.97, threshold: float = 2.5, warmup: int = 25) -> Flags:
    """ZClip: EMA mean and variance of the grad norm; z > 2.5 is a gradient spike."""
    steps, grad = _points(run, "grad_norm")
    flags: Flags = {}
    finite = grad[np.isfinite(grad)]
    if len(finite) <= warmup:
        return flags
    mean, var = float(np.mean(finite[:warmup])), float(np.var(finite[:warmup]))
    for step, value in zip(steps[warmup:], grad[warmup:]):
        if not np.isfinite(value):
            continue
        z = (value - mean) / max(np.sqrt(var), 1e-12)
        if z > threshold:
            _flag(flags, "exploding_gradients", int(step))
            break
        mean = alpha * mean + (1 - alpha) * value
        var = alpha * var + (1 - alpha) * (value - mean) ** 2
    return flags


def megatron(run: Run) -> Flags:
    """Megatron-LM: a NaN/Inf loss, or a loss above 10x the largest loss seen so far."""
    steps, loss = _points(run, "loss")
    flags: Flags = {}
    _flag(flags, "non_finite", _first(steps, ~np.isfinite(loss)))
    finite = np.where(np.isfinite(loss), loss, -np.inf)
    largest = np.maximum.accumulate(finite)
    previous = np.concatenate(([np.inf], largest[:-1]))
    _flag(flags, "loss_spike", _first(steps, np.isfinite(loss) & (loss > 10.0 * previous)))
    return flags


def autotrainer(run: Run) -> Flags:
    """AUTOTRAINER: first/last layer gradient ratio below 1e-3 vanishes, above 70 explodes."""
    layers = run.layer_names
    flags: Flags = {}
    if len(layers) < 2:
        return flags
    frame = pd.concat([run.series(layers[0]), run.series(layers[-1])], axis=1, join="inner")
    ratio = (frame.iloc[:, 0] / frame.iloc[:, 1].where(frame.iloc[:, 1] > 0)).to_numpy()
    steps = frame.index.to_numpy()
    _flag(flags, "vanishing_gradients", _first(steps, ratio < 1e-3))
    _flag(flags, "exploding_gradients", _first(steps, ratio > 70.0))
    return flags


BASELINES: dict[str, Callable[[Run], Flags]] = {
    "lightning": lightning_spike,
    "olmo": olmo_spike,
    "zclip": zclip,
    "megatron": megatron,
    "autotrainer": autotrainer,
}

COVERS: dict[str, set[str]] = {
    "lightning": {"loss_spike"},
    "olmo": {"loss_spike"},
    "zclip": {"exploding_gradients"},
    "megatron": {"loss_spike", "non_finite"},
    "autotrainer": {"vanishing_gradients", "exploding_gradients"},
}
