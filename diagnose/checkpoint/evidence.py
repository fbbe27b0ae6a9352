"""Evidence about a run that several checks weigh causes with: how far the weights sit from
their init scale, how large the optimizer's steps are, whether weights grew between
checkpoints, depth, normalization. Each is a strength in 0..1 with a detail for the report."""

from __future__ import annotations

import math
import statistics
from typing import Any

from diagnose.checkpoint.scan import Scan, TensorRecord
from diagnose.checkpoint.thresholds import Evidence
from diagnose.detectors.common import fmt

ADAPTIVE = ("adam", "rmsprop", "adagrad")


def shared_evidence(scans: list[Scan], reference: Scan, shared: dict[str, Any]) -> Evidence:
    weights = [r for r in reference.weights() if _finite(r)]
    evidence: Evidence = {
        "weights_far_above_init": _init_distance(weights, shared["init_orders"], above=True),
        "weights_far_below_init": _init_distance(weights, shared["init_orders"], above=False),
        "adaptive_lr_large": _adaptive_lr(reference, weights),
        "large_steps": _large_steps(weights),
        "grads_huge": _grads_huge(reference, shared["grad_rms_huge"]),
        "early": _early(reference, shared["early_steps"]),
        "deep_network": (float(len(reference.weights()) >= shared["deep_layers"]),
                         f"{len(reference.weights())} weight layers"),
        "no_normalization": (float(not any(r.role in ("norm", "bn_weight") for r in reference.records.values())),
                             "no BatchNorm/LayerNorm gains in the state dict"),
    }
    evidence["weights_grew"], evidence["weights_shrank"] = _growth(scans, reference)
    return evidence


def ramp(x: float, lo: float, hi: float) -> float:
    """0 at or below lo, 1 at or above hi, linear between."""
    if not math.isfinite(x):
        return 1.0 if x > 0 else 0.0
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


def init_orders(record: TensorRecord) -> float:
    """log10 of how far the weight RMS lies outside its init range (+ above, - below, 0 inside)."""
    lo, hi = record.init
    rms = record.stats.rms
    if rms > hi:
        return math.log10(rms / hi)
    if rms < lo:
        return math.log10(rms / lo) if rms > 0 else -math.inf
    return 0.0


def _init_distance(weights: list[TensorRecord], orders: float, above: bool) -> tuple[float, str]:
    sign = 1 if above else -1
    distances = [(sign * init_orders(r), r) for r in weights]
    if not distances:
        return 0.0, ""
    worst, record = max(distances, key=lambda d: d[0])
    detail = f"{record.name} {worst:.1f} orders {'above' if above else 'below'} its init RMS"
    return ramp(worst, orders, 3 * orders), detail


def _adaptive_lr(reference: Scan, weights: list[TensorRecord]) -> tuple[float, str]:
    """Adam moves every weight by about lr per step whatever the gradient: an lr near the
    weights' own init scale rewrites them in a few steps."""
    if reference.optimizer not in ADAPTIVE or not reference.lr or not weights:
        return 0.0, ""
    scale = statistics.median(r.init[1] for r in weights)
    ratio = reference.lr / scale
    detail = f"{reference.optimizer} lr {fmt(reference.lr)} is {fmt(ratio)}x the init weight RMS {fmt(scale)}"
    return ramp(math.log10(ratio), -1.0, 1.0), detail


def _large_steps(weights: list[TensorRecord]) -> tuple[float, str]:
    ratios = [r.step_ratio for r in weights if r.step_ratio is not None and math.isfinite(r.step_ratio)]
    if not ratios:
        return 0.0, ""
    median = statistics.median(ratios)
    detail = f"next optimizer step |dW|/|W| median {fmt(median)} (healthy ~1e-3)"
    return ramp(math.log10(median) if median > 0 else -math.inf, -2.0, -1.0), detail


def _grads_huge(reference: Scan, huge: float) -> tuple[float, str]:
    grads = [(r.grad_rms, r.name) for r in reference.parameters() if r.grad_rms is not None]
    if not grads:
        return 0.0, ""
    worst, name = max(grads)
    strength = ramp(math.log10(worst / huge), -1.0, 1.0) if worst > 0 else 0.0
    return strength, f"gradient RMS {fmt(worst)} in {name}"


def _early(reference: Scan, early_steps: int) -> tuple[float, str]:
    steps = reference.optimizer_steps if reference.optimizer_steps is not None else reference.step
    if steps is None:
        return 0.0, ""
    return float(steps <= early_steps), f"{int(steps)} optimizer steps taken"


def _growth(scans: list[Scan], reference: Scan) -> tuple[tuple[float, str], tuple[float, str]]:
    """Median change of weight RMS from the first checkpoint to the reference one."""
    first = scans[0]
    if first is reference:
        return (0.0, ""), (0.0, "")
    changes = [math.log10(r.stats.rms / before.stats.rms) for r in reference.weights()
               if (before := first.records.get(r.name)) is not None and _finite(r) and _finite(before)
               and before.stats.rms > 0 and r.stats.rms > 0]
    if not changes:
        return (0.0, ""), (0.0, "")
    median = statistics.median(changes)
    detail = f"weight RMS x{fmt(10 ** median)} (median over layers) from {label(first)} to {label(reference)}"
    return (ramp(median, 0.3, 1.0), detail), (ramp(-median, 0.3, 1.0), detail)


def label(scan: Scan) -> str:
    return f"{scan.path.name} (step {scan.step})" if scan.step is not None else scan.path.name


def _finite(record: TensorRecord) -> bool:
    return record.stats.nonfinite == 0 and record.stats.numel > 0
