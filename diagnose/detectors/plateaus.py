"""Runs that stop making progress: a flat saddle-like plateau, a loss stuck at ln(k),
convergence to a high value, and swinging without progress."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from diagnose.detectors.base import Event
from diagnose.detectors.common import (
    block_medians,
    block_size,
    finite_points,
    fmt,
    global_grad_norm,
    initial_level,
    median,
    percentile,
    sample_places,
)
from diagnose.run import Run


def _profile(run: Run, signal: str, n_blocks: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    steps, values = finite_points(run.series(signal))
    if len(values) < 2 * n_blocks:
        return None
    size = block_size(len(values), n_blocks)
    return steps[::size][: -(-len(values) // size)], block_medians(values, size), size


def _flat_segments(smooth: np.ndarray, tol: float) -> list[tuple[int, int]]:
    """Maximal runs of blocks whose spread stays within tol x |their level|."""
    found, start = [], 0
    while start < len(smooth):
        end, low, high = start, smooth[start], smooth[start]
        while end + 1 < len(smooth):
            low, high = min(low, smooth[end + 1]), max(high, smooth[end + 1])
            if high - low > tol * max(abs(median(smooth[start : end + 2])), 1e-12):
                break
            end += 1
        found.append((start, end))
        start = end + 1
    return found


def plateau(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """The longest flat stretch of the loss, if it is long and far from solved.

    Saddle-like: the loss later drops by `escape_drop`, and the gradient in the flat stretch
    is below `small_grad_ratio` of its level after it. High plateau: flat from the first
    `start_fraction` of the run at a level near the initial loss (never escaped).
    params: n_blocks, flat_tol, min_fraction, escape_drop, small_grad_ratio, start_fraction,
    high_ratio.
    """
    profile = _profile(run, "loss", params.get("n_blocks", 100))
    if profile is None:
        return []
    block_steps, smooth, size = profile
    start, end = max(_flat_segments(smooth, params.get("flat_tol", 0.03)), key=lambda s: s[1] - s[0])
    length = end - start + 1
    if length < params.get("min_fraction", 0.15) * len(smooth):
        return []
    level = median(smooth[start : end + 1])
    later = smooth[end + 1 :]
    escaped = bool(len(later) and later.min() <= level * (1 - params.get("escape_drop", 0.3)))
    initial = float(smooth[0])
    if not escaped and not (
        start <= params.get("start_fraction", 0.1) * len(smooth)
        and level >= params.get("high_ratio", 0.8) * initial
    ):
        return []
    grad_ratio = _grad_ratio(run, block_steps, start, end)
    if escaped and grad_ratio is not None and grad_ratio > params.get("small_grad_ratio", 0.5):
        return []
    plateau_end = int(block_steps[min(end + 1, len(block_steps) - 1)])
    evidence = [
        f"loss flat at {fmt(level)} from step {int(block_steps[start])} to {plateau_end} "
        f"({fmt(100 * length / len(smooth))}% of the run)",
        f"then dropped to {fmt(float(later.min()))}" if escaped else "never dropped below it",
    ]
    if grad_ratio is not None:
        evidence.append(f"grad_norm on the plateau is {fmt(grad_ratio)}x its level after it")
    return [
        Event(
            step=int(block_steps[start]),
            end_step=plateau_end,
            confidence=float(min(1.0, 0.5 + length / len(smooth))),
            evidence=evidence,
            signal="loss",
            stats={"level": level, "escaped": escaped, "fraction": length / len(smooth),
                   "grad_ratio": grad_ratio, "initial": initial},
        )
    ]


def _grad_ratio(run: Run, block_steps: np.ndarray, start: int, end: int) -> float | None:
    """Median grad norm on the plateau over the largest smoothed grad norm after it."""
    grad = global_grad_norm(run)
    if grad is None:
        return None
    steps, values = finite_points(grad)
    lo, hi = block_steps[start], block_steps[min(end + 1, len(block_steps) - 1)]
    on = values[(steps >= lo) & (steps < hi)]
    after = values[steps >= hi]
    if len(on) == 0 or len(after) < 5:
        return None
    after_level = block_medians(after, max(1, len(after) // 10)).max()
    return float(median(on) / after_level) if after_level > 0 else None


def stuck_at_chance(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """The loss sits at ln(k) for a class count k: the model predicts the uniform distribution.

    k is Run.meta["num_classes"] when known, else the integer nearest exp(loss); then the loss
    must also start near ln(k), as a freshly initialised classifier does.
    params: tail_fraction, rel_tol (|level - ln k| / ln k), max_k, max_spread (IQR / level).
    """
    steps, loss = finite_points(run.series("loss"))
    if len(loss) < params.get("min_points", 20):
        return []
    tail = loss[-max(1, int(len(loss) * params.get("tail_fraction", 0.5))) :]
    level = median(tail)
    known_k = run.meta.get("num_classes")
    k = int(known_k) if known_k else int(round(math.exp(min(level, 50.0))))
    if not 2 <= k <= params.get("max_k", 1000):
        return []
    chance, tol = math.log(k), params.get("rel_tol", 0.03)
    start_level = median(loss[: max(5, len(loss) // 20)])
    spread = float(np.subtract(*percentile(tail, [75, 25])) / chance)
    smooth_min = float(block_medians(loss, block_size(len(loss), 50)).min())
    if (
        abs(level - chance) > tol * chance
        or spread > params.get("max_spread", 0.1)
        or smooth_min < chance * (1 - 3 * tol)
        or (not known_k and abs(start_level - chance) > 3 * tol * chance)
    ):
        return []
    evidence = [f"loss {fmt(level)} vs ln({k}) = {fmt(chance)} over the last "
                f"{fmt(100 * len(tail) / len(loss))}% of the run"]
    stats = {"k": k, "level": level, "chance": chance, "spread": spread}
    accuracy = _final(run, "accuracy")
    if accuracy is not None:
        evidence.append(f"accuracy {fmt(accuracy)} vs chance 1/{k} = {fmt(1 / k)}")
        stats["accuracy"] = accuracy
    return [Event(step=int(steps[0]), end_step=int(steps[-1]), confidence=0.9,
                  evidence=evidence, signal="loss", stats=stats)]


def underfitting(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """The loss has converged (flat tail) but to a high fraction of its initial value.

    params: tail_fraction, flat_tol (change across the tail / level), high_ratio (final /
    initial at or above this is high), max_accuracy (when accuracy is logged, final train
    accuracy at or above it means the fit is fine).
    """
    steps, loss = finite_points(run.series("loss"))
    if len(loss) < params.get("min_points", 50):
        return []
    tail = loss[-max(4, int(len(loss) * params.get("tail_fraction", 0.25))) :]
    half = len(tail) // 2
    early_tail, late_tail = median(tail[:half]), median(tail[half:])
    initial = initial_level(loss)
    level = late_tail
    if initial <= 0 or level <= 0:
        return []
    change = (early_tail - late_tail) / level
    ratio = level / initial
    accuracy = _final(run, "accuracy")
    if change > params.get("flat_tol", 0.05):
        return []
    floor_k = _softmax_floor_classes(run, loss, level, params)
    if floor_k is None and (
        ratio < params.get("high_ratio", 0.4)
        or (accuracy is not None and accuracy >= params.get("max_accuracy", 0.9))
    ):
        return []
    evidence = [f"loss converged at {fmt(level)}, {fmt(100 * ratio)}% of its initial {fmt(initial)}",
                f"change over the last {fmt(100 * len(tail) / len(loss))}% of the run: "
                f"{fmt(100 * change)}%"]
    if floor_k is not None:
        evidence.append(f"{fmt(level)} is ln(e + {floor_k} - 1) - 1 = {fmt(softmax_floor(floor_k))}, the lowest "
                        f"cross-entropy reachable when a softmax output is fed to a loss that applies log-softmax")
    if accuracy is not None:
        evidence.append(f"final training accuracy {fmt(accuracy)}")
    onset = int(steps[len(loss) - len(tail)])
    return [Event(step=onset, end_step=int(steps[-1]), confidence=float(min(1.0, 0.4 + ratio)),
                  evidence=evidence, signal="loss",
                  stats={"level": level, "initial": initial, "ratio": ratio, "change": change,
                         "accuracy": accuracy, "softmax_floor_k": floor_k})]


def softmax_floor(k: int) -> float:
    """Cross-entropy of log-softmax over probabilities (a softmax fed to CrossEntropyLoss):
    at best the true class gets e^1 / (e^1 + k - 1), so the loss cannot go below this."""
    return math.log(math.e + k - 1) - 1


def _softmax_floor_classes(run: Run, loss: np.ndarray, level: float, params: Mapping[str, Any]) -> int | None:
    """The class count k whose softmax floor the converged loss sits on, never dipping below
    it. k is Run.meta["num_classes"], else exp(initial loss): such a classifier starts at ln k.
    Below `floor_min_k` classes the floor is a common honest final loss, so it proves nothing."""
    first = median(loss[: max(3, len(loss) // 100)])  # before a fast learner leaves ln k
    known_k = run.meta.get("num_classes")
    k = int(known_k) if known_k else int(round(math.exp(min(first, 50.0))))
    tol = params.get("floor_tol", 0.03)
    if not params.get("floor_min_k", 3) <= k <= params.get("max_k", 1000):
        return None
    if not known_k and abs(first - math.log(k)) > 3 * tol * math.log(k):
        return None
    floor = softmax_floor(k)
    lowest = float(block_medians(loss, block_size(len(loss), 50)).min())
    return k if abs(level - floor) <= tol * floor and lowest >= floor * (1 - tol) else None


def oscillation(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """In the second half of the run the loss swings widely but makes no progress, and the
    gradient norm has not come down.

    params: min_points, max_progress (fall from 3rd to 4th quarter / level), min_swing
    ((p90 - p10) of the `smooth_points` moving mean / median, second half), unsolved_ratio (level / initial at or above),
    grad_ratio (second-half grad / first-tenth grad at or above).
    """
    steps, loss = finite_points(run.series("loss"))
    n = len(loss)
    if n < params.get("min_points", 50):
        return []
    second = loss[n // 2 :]
    q3, q4 = median(loss[n // 2 : 3 * n // 4]), median(loss[3 * n // 4 :])
    level = median(second)
    initial = initial_level(loss)
    if level <= 0 or initial <= 0:
        return []
    progress = (q3 - q4) / level
    # Swings of the loss *level*: a moving mean leaves minibatch noise nearly flat.
    p10, p90 = percentile(_moving_mean_sample(second, params.get("smooth_points", 20)), [10, 90])
    swing = float((p90 - p10) / level)
    if (
        progress > params.get("max_progress", 0.05)
        or swing < params.get("min_swing", 0.3)
        or level < params.get("unsolved_ratio", 0.2) * initial
    ):
        return []
    evidence = [f"loss swings {fmt(p10)}..{fmt(p90)} around {fmt(level)} over the second half "
                f"(swing {fmt(100 * swing)}% of its level), progress {fmt(100 * progress)}%"]
    stats = {"level": level, "swing": swing, "progress": progress, "initial": initial}
    grad = global_grad_norm(run)
    if grad is not None:
        g_steps, g = finite_points(grad)
        if len(g) >= 20:
            g_ratio = float(median(g[len(g) // 2 :]) / max(median(g[: max(2, len(g) // 10)]), 1e-30))
            if g_ratio < params.get("grad_ratio", 0.5):
                return []
            evidence.append(f"grad_norm stays at {fmt(g_ratio)}x its early level")
            stats["grad_ratio"] = g_ratio
    return [Event(step=int(steps[n // 2]), end_step=int(steps[-1]),
                  confidence=float(min(1.0, 0.4 + swing / 2)), evidence=evidence,
                  signal="loss", stats=stats)]


def _moving_mean(values: np.ndarray, window: int) -> np.ndarray:
    window = max(1, min(window, len(values)))
    sums = np.cumsum(np.concatenate(([0.0], values)))
    return (sums[window:] - sums[:-window]) / window


def _moving_mean_sample(values: np.ndarray, window: int) -> np.ndarray:
    """The moving mean where `sample` would draw from it: a long signal never builds the whole."""
    window = max(1, min(window, len(values)))
    where = sample_places(len(values) - window + 1)
    if where is None:
        return _moving_mean(values, window)
    return values[where[:, None] + np.arange(window)].mean(axis=1)


def _final(run: Run, signal: str) -> float | None:
    if not run.has(signal):
        return None
    _, values = finite_points(run.series(signal))
    if len(values) == 0:
        return None
    return median(values[-max(1, len(values) // 10) :])
