"""The checks: scanned checkpoints -> findings. Each check reads its thresholds and cause
weights from rules/checkpoint/thresholds.toml; evidence shared by several lives in evidence.py."""

from __future__ import annotations

import math
import statistics

from diagnose.checkpoint.evidence import init_orders, label, ramp, shared_evidence
from diagnose.checkpoint.scan import Scan, TensorRecord
from diagnose.checkpoint.thresholds import Checks, Evidence, finding
from diagnose.detectors.common import fmt
from diagnose.report.model import Finding, severity_rank


def run_checks(scans: list[Scan], checks: Checks) -> list[Finding]:
    """Every check over the checkpoints of one run (oldest first), most severe findings first."""
    reference = reference_scan(scans)
    evidence = shared_evidence(scans, reference, checks.shared)
    findings = [
        *non_finite(scans, checks, evidence),
        *weight_scale(reference, checks, evidence),
        *gradient_profile(reference, checks, evidence),
        *gradient_scale(scans, reference, checks, evidence),
        *update_sizes(scans, checks, evidence),
        *norm_layers(reference, checks, evidence),
    ]
    return sorted(findings, key=lambda f: (-severity_rank(f.severity), -f.confidence))


def reference_scan(scans: list[Scan]) -> Scan:
    """The latest checkpoint whose parameters are all finite (else the latest): the state the
    scale and gradient checks describe; the non-finite check covers what came after."""
    finite = [s for s in scans if not any(r.stats.nonfinite for r in s.parameters())]
    return finite[-1] if finite else scans[-1]


def non_finite(scans: list[Scan], checks: Checks, shared: Evidence) -> list[Finding]:
    """NaN/Inf in parameters, buffers or optimizer moments: where first, and what came before."""
    index = next((i for i, s in enumerate(scans) if any(r.nonfinite for r in s.records.values())), None)
    if index is None:
        return []
    scan, limit = scans[index], checks.shared["max_names"]
    tensors = [r for r in scan.records.values() if r.nonfinite]
    params = [r for r in scan.parameters() if r.stats.numel]
    hit = [r for r in params if r.stats.nonfinite]
    partial = bool(hit) and len(hit) < len(params)
    lines = [f"NaN/Inf in {len(tensors)} of {len(scan.records)} tensors at {label(scan)}: "
             + _names([_nonfinite_text(r) for r in tensors], limit)]
    if partial:
        lines.append(f"non-finite first in {_names([r.name for r in hit], limit)}; "
                     f"{len(params) - len(hit)} parameter tensors still finite")
    before = _before_nonfinite(scans[index - 1], checks) if index else {}
    if before:
        lines.append(before["finite_before"][1])
    if scans[-1] is not scan:
        spread = sum(1 for r in scans[-1].records.values() if r.nonfinite)
        lines.append(f"{spread} tensors non-finite by {label(scans[-1])}")
    everything = bool(params) and all(r.stats.nonfinite == r.stats.numel for r in params)
    evidence = {**shared, "finite_before": (0.0, ""), "huge_before": (0.0, ""), **before,
                "everything_at_once": (float(everything), "every parameter entirely non-finite in one checkpoint"),
                "moments_only": (float(not hit), "only optimizer moments are non-finite; weights are finite"),
                "partial_nonfinite": (float(partial), "some parameter tensors still finite")}
    return [finding(checks, "non-finite", evidence, lines, step=scan.step, confidence=0.99,
                    stats={"checkpoint": str(scan.path), "tensors": [r.name for r in tensors],
                           "first": [r.name for r in hit]})]


def _before_nonfinite(before: Scan, checks: Checks) -> Evidence:
    """The last all-finite checkpoint: were weights or gradients already huge (a blow-up) or
    normal (a sudden break, as one bad batch causes)?"""
    shared = checks.shared
    orders = max((init_orders(r) for r in before.weights()), default=0.0)
    grads = max((r.grad_rms for r in before.parameters() if r.grad_rms is not None), default=0.0)
    huge = max(ramp(orders, shared["init_orders"], 3 * shared["init_orders"]),
               ramp(math.log10(grads / shared["grad_rms_huge"]), -1.0, 1.0) if grads > 0 else 0.0)
    scale = (f"weights up to {orders:.1f} orders above their init RMS" if orders >= 0.1
             else "weights in their init range")
    detail = f"all finite at {label(before)}: {scale}" + (f", gradient RMS up to {fmt(grads)}" if grads else "")
    return {"huge_before": (huge, detail), "finite_before": (1.0 - huge, detail)}


def _nonfinite_text(record: TensorRecord) -> str:
    parts = [f"{record.stats.nonfinite}/{record.stats.numel}"] if record.stats.nonfinite else []
    parts += [f"{moment} {count}" for moment, count in record.moments_nonfinite.items() if count]
    return f"{record.name} ({', '.join(parts)})"


def weight_scale(reference: Scan, checks: Checks, shared: Evidence) -> list[Finding]:
    weights = [r for r in reference.weights() if r.stats.nonfinite == 0 and r.stats.numel]
    found = []
    for key, sign, word in (("weight-scale-high", 1, "above"), ("weight-scale-low", -1, "below")):
        params = checks[key].params
        off = sorted(((sign * init_orders(r), r) for r in weights), key=lambda x: -x[0])
        off = [(o, r) for o, r in off if o >= params["min_orders"]]
        if not off:
            continue
        worst = off[0][0]
        lines = [f"{len(off)} of {len(weights)} weight layers are over {params['min_orders']} orders "
                 f"of magnitude {word} the RMS their fan-in implies (PyTorch default / Xavier / He init)"]
        lines += [f"{r.name} {'x'.join(map(str, r.shape))}: RMS {fmt(r.stats.rms)} vs "
                  f"{fmt(r.init[0])}-{fmt(r.init[1])} ({o:.1f} orders {word})"
                  for o, r in off[:checks.shared["max_names"]]]
        severity = "error" if worst >= params["error_orders"] else None
        found.append(finding(checks, key, shared, lines, step=reference.step, severity=severity,
                             confidence=0.5 + 0.15 * worst,
                             stats={"max_orders": worst, "layers": {r.name: r.stats.rms for _, r in off}}))
    return found


def gradient_profile(reference: Scan, checks: Checks, shared: Evidence) -> list[Finding]:
    """Early layers' gradient RMS (from the optimizer's moments) far below the late layers'."""
    params = checks["gradients-vanishing"].params
    layers = [r for r in reference.weights() if r.grad_rms is not None and math.isfinite(r.grad_rms)]
    if len(layers) < params["min_layers"]:
        return []
    k = max(1, len(layers) // 3)
    early, late = _geomean(r.grad_rms for r in layers[:k]), _geomean(r.grad_rms for r in layers[-k:])
    orders = math.log10(late / early) if early > 0 else math.inf
    if orders < params["min_orders"]:
        return []
    lines = [f"gradient RMS from the {reference.optimizer} state: first {k} layers {fmt(early)} vs last {k} "
             f"{fmt(late)}: {orders:.1f} orders of magnitude",
             "per layer: " + ", ".join(f"{r.name} {fmt(r.grad_rms)}" for r in _ends(layers, 4))]
    severity = "error" if orders >= params["error_orders"] else None
    return [finding(checks, "gradients-vanishing", shared, lines, step=reference.step, severity=severity,
                    confidence=min(0.95, 0.5 + 0.1 * orders),
                    stats={"orders": orders, "grad_rms": {r.name: r.grad_rms for r in layers}})]


def gradient_scale(scans: list[Scan], reference: Scan, checks: Checks, shared: Evidence) -> list[Finding]:
    """Gradient RMS huge per element, or grown by orders of magnitude between checkpoints."""
    huge = checks.shared["grad_rms_huge"]
    grads = sorted((r for r in reference.parameters() if r.grad_rms is not None and r.grad_rms >= huge),
                   key=lambda r: -r.grad_rms)
    lines = []
    if grads:
        listed = _names([f"{r.name} {fmt(r.grad_rms)}" for r in grads], checks.shared["max_names"])
        lines.append(f"gradient RMS per element above {fmt(huge)} (from the {reference.optimizer} state) "
                     f"in {len(grads)} tensors: {listed}")
    growth = _grad_growth(scans, reference)
    if growth is not None and growth[0] >= checks["gradients-exploding"].params["growth_orders"]:
        lines.append(f"gradient RMS grew {growth[0]:.1f} orders of magnitude (median over layers) "
                     f"from {label(growth[1])} to {label(reference)}")
    if not lines:
        return []
    worst = grads[0].grad_rms if grads else huge
    return [finding(checks, "gradients-exploding", shared, lines, step=reference.step,
                    confidence=min(0.95, 0.6 + 0.1 * math.log10(worst / huge)),
                    stats={"grad_rms": {r.name: r.grad_rms for r in grads}})]


def _grad_growth(scans: list[Scan], reference: Scan) -> tuple[float, Scan] | None:
    first = next((s for s in scans if any(r.grad_rms for r in s.weights())), None)
    if first is None or first is reference:
        return None
    changes = [math.log10(r.grad_rms / first.records[r.name].grad_rms) for r in reference.weights()
               if r.grad_rms and r.name in first.records and first.records[r.name].grad_rms]
    return (statistics.median(changes), first) if changes else None


def update_sizes(scans: list[Scan], checks: Checks, shared: Evidence) -> list[Finding]:
    """Per-step |dW|/|W| between consecutive checkpoints: layers that jump, layers that never move."""
    if len(scans) < 2:
        return []
    return [*_jumps(scans, checks, shared), *_still(scans, checks, shared)]


def _jumps(scans: list[Scan], checks: Checks, shared: Evidence) -> list[Finding]:
    """The first checkpoint where layers moved more than `jump_above` of their norm per step."""
    jump = checks["updates-jump"].params["jump_above"]
    for scan in scans[1:]:
        jumped = [r for r in scan.parameters() if r.update_ratio is not None and r.update_ratio > jump]
        if jumped:
            listed = _names([f"{r.name} {fmt(r.update_ratio)}" for r in jumped], checks.shared["max_names"])
            lines = [f"per-step relative update |dW|/|W| above {fmt(jump)} (healthy ~1e-3) at {label(scan)}: {listed}"]
            return [finding(checks, "updates-jump", shared, lines, step=scan.step, confidence=0.8,
                            stats={"update_ratio": {r.name: r.update_ratio for r in jumped}})]
    return []


def _still(scans: list[Scan], checks: Checks, shared: Evidence) -> list[Finding]:
    below = checks["updates-still"].params["still_below"]
    still = _still_layers(scans, below)
    if not still:
        return []
    last = scans[-1]
    lines = [f"{len(still)} parameter tensors did not move between {label(scans[0])} and {label(last)} "
             f"(per-step |dW|/|W| below {fmt(below)}): " + _names([r.name for r in still], checks.shared["max_names"])]
    if last.optimizer is None:
        lines.append("no optimizer state saved: if these layers are frozen on purpose, ignore this")
    elif last.stateless:
        lines.append(f"{last.stateless} parameters in the optimizer never received a gradient "
                     "(requires_grad=False, or detached from the loss)")
    return [finding(checks, "updates-still", shared, lines, step=last.step, confidence=0.7,
                    stats={"layers": [r.name for r in still]})]


def _still_layers(scans: list[Scan], below: float) -> list[TensorRecord]:
    """Parameters that never moved. When the optimizer holds moments for every parameter it
    was given, a still one it does not hold was left out on purpose (frozen)."""
    last = scans[-1]
    left_out_on_purpose = last.optimizer is not None and last.stateless == 0
    still = []
    for record in last.parameters():
        ratios = [s.records[record.name].update_ratio for s in scans[1:] if record.name in s.records]
        if ratios and None not in ratios and max(ratios) < below and (
                record.in_optimizer or not left_out_on_purpose):
            still.append(record)
    return still


def norm_layers(reference: Scan, checks: Checks, shared: Evidence) -> list[Finding]:
    """BatchNorm running variances collapsed or exploded; normalization gains near zero."""
    finite = [r for r in reference.records.values() if r.stats.finite]
    variances = [r for r in finite if r.role == "running_var"]
    gains = [r for r in finite if r.role in ("norm", "bn_weight")]
    collapsed, exploded, silent = (checks[k].params for k in ("batchnorm-collapsed", "batchnorm-exploded", "norm-gain"))
    found = {
        "batchnorm-collapsed": [(r, f"{r.layer} running_var min {fmt(r.stats.minimum)}")
                                for r in variances if r.stats.minimum < collapsed["var_below"]],
        "batchnorm-exploded": [(r, f"{r.layer} running_var max {fmt(r.stats.maximum)}")
                               for r in variances if r.stats.maximum > exploded["var_above"]],
        "norm-gain": [(r, f"{r.layer} gain RMS {fmt(r.stats.rms)}")
                      for r in gains if r.stats.rms < silent["gain_below"]],
    }
    return [finding(checks, key, shared, [_names([text for _, text in bad], checks.shared["max_names"])],
                    step=reference.step, confidence=0.75, stats={"layers": [r.layer for r, _ in bad]})
            for key, bad in found.items() if bad]


def _names(items: list[str], limit: int) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _ends(items: list, n: int) -> list:
    return items if len(items) <= 2 * n else items[:n] + items[-n:]


def _geomean(values) -> float:
    values = [max(v, 1e-300) for v in values]
    return math.exp(sum(map(math.log, values)) / len(values))
