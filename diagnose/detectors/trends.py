"""Slow trends of the loss: divergence (training loss climbs away from its best) and
overfitting (validation loss climbs while training loss still falls)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from diagnose.detectors.base import Event
from diagnose.detectors.common import (
    block_medians,
    block_size,
    finite_points,
    fmt,
    median,
)
from diagnose.run import Run


def divergence(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """The smoothed loss ends well above its best and stays there.

    params: signal, n_blocks (smoothing resolution), min_points, min_rel_rise (final vs best,
    as a fraction of |best|), min_lost_progress (fraction of the progress made from the start
    to the best that the end gave back), sustain_blocks (last blocks that must all stay risen),
    onset_rise (the onset is where the loss last left best x (1 + onset_rise)).
    """
    signal = params.get("signal", "loss")
    steps, values = finite_points(run.series(signal))
    if len(values) < params.get("min_points", 20):
        return []
    size = block_size(len(values), params.get("n_blocks", 50))
    smooth = block_medians(values, size)
    block_steps = steps[::size][: len(smooth)]
    best_i = int(np.argmin(smooth))
    best, initial, final = float(smooth[best_i]), float(smooth[0]), float(smooth[-1])
    rise = final - best
    sustain = smooth[-params.get("sustain_blocks", 3) :]
    if (
        best_i >= len(smooth) - 1
        or rise < params.get("min_rel_rise", 0.5) * max(abs(best), 1e-12)
        or rise < params.get("min_lost_progress", 0.5) * (max(initial, best) - best)
        or np.any(sustain - best < params.get("sustain_rel_rise", 0.25) * max(abs(best), 1e-12))
    ):
        return []
    near_best = best + params.get("onset_rise", 0.2) * max(abs(best), 1e-12)
    left_best = best_i + int(np.flatnonzero(smooth[best_i:] <= max(near_best, best))[-1])
    onset_i = min(left_best + 1, len(smooth) - 1)
    ratio = final / best if best > 0 else float("inf")
    return [
        Event(
            step=int(block_steps[onset_i]),
            end_step=int(steps[-1]),
            confidence=float(min(1.0, 0.6 + 0.1 * np.log10(max(ratio, 1.0)) + 0.2)),
            evidence=[
                f"{signal} best {fmt(best)} at step {int(block_steps[best_i])}, "
                f"ends at {fmt(final)} (x{fmt(ratio)})",
                f"climbing from step {int(block_steps[onset_i])} and never back",
            ],
            signal=signal,
            stats={"best": best, "best_step": int(block_steps[best_i]), "final": final,
                   "initial": initial, "ratio": ratio},
        )
    ]


def overfitting(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """Validation loss rises from its minimum while the training loss keeps falling.

    params: min_points (validation points), min_points_after (after the minimum), min_rise
    (last vs min, fraction of |min|), min_train_drop (training loss fall over the same span,
    as a fraction), tail_points (validation points averaged for "last").
    """
    val_steps, val = finite_points(run.series("val_loss"))
    if len(val) < params.get("min_points", 5):
        return []
    min_i = int(np.argmin(val))
    after = val[min_i + 1 :]
    tail = val[-params.get("tail_points", 3) :]
    val_min, val_last = float(val[min_i]), median(tail)
    rise = (val_last - val_min) / max(abs(val_min), 1e-12)
    if len(after) < params.get("min_points_after", 3) or rise < params.get("min_rise", 0.1):
        return []
    if np.any(tail < val_min + 0.5 * (val_last - val_min)):
        return []
    train_steps, train = finite_points(run.series("loss"))
    train_at_min = _level_near(train_steps, train, val_steps[min_i])
    train_end = median(train[-max(3, len(train) // 20) :])
    train_drop = (train_at_min - train_end) / max(abs(train_at_min), 1e-12)
    if train_drop < params.get("min_train_drop", 0.05):
        return []
    return [
        Event(
            step=int(val_steps[min_i]),
            end_step=int(val_steps[-1]),
            confidence=float(min(1.0, 0.6 + rise)),
            evidence=[
                f"val_loss {fmt(val_min)} at step {int(val_steps[min_i])} -> {fmt(val_last)} "
                f"at the end (+{fmt(100 * rise)}%)",
                f"train loss kept falling: {fmt(train_at_min)} -> {fmt(train_end)} "
                f"(-{fmt(100 * train_drop)}%)",
            ],
            signal="val_loss",
            stats={"val_min": val_min, "val_last": val_last, "rise": rise,
                   "train_drop": train_drop, "gap": val_last - train_end},
        )
    ]


def _level_near(steps: np.ndarray, values: np.ndarray, step: int, half_width: int = 5) -> float:
    i = int(np.searchsorted(steps, step))
    lo, hi = max(0, i - half_width), min(len(values), i + half_width + 1)
    return median(values[lo:hi]) if hi > lo else float(values[-1])
