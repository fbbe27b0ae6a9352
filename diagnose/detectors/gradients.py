"""Gradient-norm pathologies: growth by orders of magnitude, collapse towards zero, and
early layers starved while late ones still learn (the chain rule's product of Jacobians)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from diagnose.detectors.base import Event
from diagnose.detectors.common import (
    block_medians,
    block_size,
    finite_points,
    fmt,
    global_grad_norm,
    median,
)
from diagnose.run import Run


def exploding(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """The smoothed log grad norm rises `min_orders` decades above its lowest earlier level.

    params: n_blocks (smoothing resolution), min_orders (decades), min_points; the same test
    runs on each per-layer norm to name the layers that blew up.
    """
    grad = global_grad_norm(run)
    if grad is None:
        return []
    growth = _growth(grad, params)
    if growth is None:
        return []
    onset, low, high, end, recovered = growth
    if _took_off(run, onset, end, params):
        return []  # a flat loss that starts falling as the gradient grows: a saddle escape
    layers = [n for n in run.layer_names if _growth(run.series(n), params) is not None]
    evidence = [
        f"grad_norm {fmt(10**low)} -> {fmt(10**high)} (x{fmt(10 ** (high - low))}) "
        f"from step {onset}"
    ]
    if layers:
        evidence.append(f"layers that blew up: {', '.join(n.split('/', 1)[1] for n in layers)}")
    return [
        Event(
            step=onset,
            end_step=end,
            confidence=float(min(1.0, 0.5 + 0.15 * (high - low))),
            evidence=evidence,
            signal="grad_norm",
            stats={"orders": high - low, "low": 10**low, "high": 10**high, "layers": layers,
                   "recovered": recovered},
        )
    ]


def _took_off(run: Run, start: int, end: int, params: Mapping[str, Any]) -> bool:
    """The loss had not yet left its first level at `start` and fell by more than
    `max_loss_drop` over [start, end]: the gradient grew because learning began (an escape
    from a flat start, an RNN finding its signal), not because a trained model blew up."""
    if not run.has("loss"):
        return False
    steps, loss = finite_points(run.series("loss"))
    before, during = loss[steps < start], loss[(steps >= start) & (steps <= end)]
    if len(before) < 3 or len(during) < 10:
        return False
    drop = params.get("max_loss_drop", 0.3)
    untrained = median(before[-max(3, len(before) // 4) :]) >= (1 - drop) * median(loss[:5])
    return untrained and _relative_fall(during) > drop


def _relative_fall(values: np.ndarray) -> float:
    """Median of the first tenth minus median of the last tenth, relative to the first."""
    tenth = max(1, len(values) // 10)
    first, last = median(values[:tenth]), median(values[-tenth:])
    return (first - last) / abs(first) if first != 0 else 0.0


def _growth(series: pd.Series, params: Mapping[str, Any]) -> tuple[int, float, float, int, bool] | None:
    """(onset step, low and high log10 levels, end step, came back down) of the first rise
    of `min_orders` decades that lasts `min_blocks` smoothing blocks; a shorter surge is a
    spike (the loss-spike rule's territory), not an explosion."""
    steps, values = finite_points(series)
    positive = values > 0
    if not positive.all():  # the copies cost 160 MB on a 10-million-step log
        steps, values = steps[positive], values[positive]
    if len(values) < params.get("min_points", 20):
        return None
    size = block_size(len(values), params.get("n_blocks", 50))
    smooth = np.log10(block_medians(values, size))
    running_low = np.minimum.accumulate(smooth)
    rise = smooth - running_low
    min_orders = params.get("min_orders", 1.5)
    for first in np.flatnonzero(rise >= min_orders):
        low = float(running_low[first])
        elevated = smooth[first:] >= low + min_orders / 2
        stretch = int(np.argmin(elevated)) if not elevated.all() else len(elevated)
        if stretch < params.get("min_blocks", 3) and not elevated.all():
            continue
        crossing = int(np.flatnonzero(smooth[: first + 1] < low + min_orders / 2)[-1]) + 1
        onset_step = int(steps[min(crossing, first) * size])
        last = min(len(values) - 1, (first + stretch) * size - 1)
        high = float(smooth[first : first + stretch].max())
        return onset_step, low, high, int(steps[last]), not bool(elevated.all())
    return None


def vanishing(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """The global grad norm falls `min_orders` decades while the loss is far from solved.

    params: edge_fraction (share of the run averaged at the start and at the end),
    min_orders, not_solved_ratio (final loss / initial loss above this = not solved).
    """
    grad = global_grad_norm(run)
    if grad is None or not _loss_unsolved(run, params):
        return []
    steps, values = finite_points(grad)
    values = np.maximum(values, 1e-30)
    edge = max(1, int(len(values) * params.get("edge_fraction", 0.1)))
    if len(values) < 2 * edge + 2:
        return []
    early, late = np.log10(median(values[:edge])), np.log10(median(values[-edge:]))
    if early - late < params.get("min_orders", 2.0):
        return []
    below = np.flatnonzero(np.log10(values) <= early - params.get("min_orders", 2.0) / 2)
    return [
        Event(
            step=int(steps[below[0]]),
            end_step=int(steps[-1]),
            confidence=float(min(1.0, 0.5 + 0.1 * (early - late))),
            evidence=[f"grad_norm {fmt(10**early)} -> {fmt(10**late)} "
                      f"({fmt(early - late)} orders of magnitude down) while the loss stays high"],
            signal="grad_norm",
            stats={"orders": early - late, "early": 10**early, "late": 10**late},
        )
    ]


def layer_ratio(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """The first layer's gradient norm is `min_orders` decades below the last layer's.

    params: min_orders, n_blocks, not_solved_ratio (0 disables the loss condition).
    """
    layers = _weight_layers(run)
    if len(layers) < 2 or not _loss_unsolved(run, params):
        return []
    pair = pd.concat([run.series(layers[0]), run.series(layers[-1])], axis=1, join="inner")
    pair = pair[np.isfinite(pair).all(axis=1) & (pair > 0).all(axis=1)]
    if len(pair) < params.get("min_points", 10):
        return []
    log_ratio = np.log10(pair.iloc[:, 0].to_numpy()) - np.log10(pair.iloc[:, 1].to_numpy())
    overall = median(log_ratio)
    min_orders = params.get("min_orders", 2.0)
    if overall > -min_orders:
        return []
    size = block_size(len(log_ratio), params.get("n_blocks", 50))
    smooth = block_medians(log_ratio, size)
    onset_block = int(np.flatnonzero(smooth <= -min_orders)[0])
    steps = pair.index.to_numpy()
    medians = {n.split("/", 1)[1]: float(run.series(n).median()) for n in layers}
    return [
        Event(
            step=int(steps[onset_block * size]),
            end_step=int(steps[-1]),
            confidence=float(min(1.0, 0.5 + 0.1 * -overall)),
            evidence=[
                f"first layer {layers[0].split('/', 1)[1]} grad {fmt(medians[layers[0].split('/', 1)[1]])}"
                f" vs last layer {layers[-1].split('/', 1)[1]} {fmt(medians[layers[-1].split('/', 1)[1]])}"
                f" (ratio {fmt(10**overall)}, {fmt(-overall)} orders of magnitude)",
                "per-layer median grad norms, input side first: "
                + ", ".join(fmt(v) for v in medians.values()),
            ],
            signal=layers[0],
            stats={"ratio": 10**overall, "orders": -overall, "layers": len(layers),
                   "layer_medians": medians},
        )
    ]


def _weight_layers(run: Run) -> list[str]:
    layers = run.layer_names
    weights = [n for n in layers if "weight" in n or "kernel" in n]
    return weights or layers


def _loss_unsolved(run: Run, params: Mapping[str, Any]) -> bool:
    threshold = params.get("not_solved_ratio", 0.5)
    if threshold <= 0 or not run.has("loss"):
        return True
    _, loss = finite_points(run.series("loss"))
    if len(loss) < 10:
        return True
    edge = max(1, len(loss) // 10)
    initial, final = median(loss[:edge]), median(loss[-edge:])
    return bool(initial <= 0 or final >= threshold * initial)
