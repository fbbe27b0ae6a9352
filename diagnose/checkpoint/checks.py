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
    bad = [i for i, s in enumerate(scans) if any(r.nonfinite for r in s.records.values())]
    if not bad:
        return []
    index = bad[0]
    scan, names = scans[index], checks.shared["max_names"]
    tensors = [r for r in scan.records.values() if r.nonfinite]
    params = [r for r in scan.parameters() if r.stats.numel]
    hit = [r for r in params if r.stats.nonfinite]
    everything = bool(params) and all(r.stats.nonfinite == r.stats.numel for r in params)
    lines = [f"NaN/Inf in {len(tensors)} of {len(scan.records)} tensors at {label(scan)}: "
             + _names([_nonfinite_text(r) for r in tensors], names)]
    if hit and len(hit) < len(params):
        lines.append(f"non-finite first in {_names([r.name for r in hit], names)}; "
                     f"{len(params) - len(hit)} parameter tensors still finite")
    evidence = dict(shared)
    evidence.update(_before_nonfinite(scans, index, checks, lines))
    evidence["everything_at_once"] = (float(everything), "every parameter entirely non-finite in one checkpoint")
    evidence["moments_only"] = (float(not hit), "only optimizer moments are non-finite; weights are finite")
    evidence["partial_nonfinite"] = (float(bool(hit) and len(hit) < len(params)), "some layers still finite")
    later = scans[-1]
    if later is not scan:
        spread = sum(1 for r in later.records.values() if r.nonfinite)
        lines.append(f"{spread} tensors non-finite by {label(later)}")
    return [finding(checks, "non-finite", evidence, lines, step=scan.step, confidence=0.99,
                    stats={"checkpoint": str(scan.path), "tensors": [r.name for r in tensors],
                           "first": [r.name for r in hit]})]


def _before_nonfinite(scans: list[Scan], index: int, checks: Checks, lines: list[str]) -> Evidence:
    """What the last checkpoint before the first non-finite one looked like."""
    if index == 0:
        return {"finite_before": (0.0, ""), "huge_before": (0.0, "")}
    before = scans[index - 1]
    weights = [r for r in before.weights() if r.stats.finite]
    orders = max((init_orders(r) for r in weights), default=0.0)
    grads = max((r.grad_rms for r in before.parameters() if r.grad_rms is not None), default=0.0)
    huge = max(ramp(orders, checks.shared["init_orders"], 3 * checks.shared["init_orders"]),
               ramp(math.log10(grads / checks.shared["grad_rms_huge"]), -1.0, 1.0) if grads > 0 else 0.0)
    detail = f"at {label(before)}: weights up to {orders:.1f} orders above init, gradient RMS up to {fmt(grads)}"
    lines.append(f"all finite at {label(before)} (weights up to {orders:.1f} orders above their init RMS)")
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
                  f"{fmt(r.init[0])}-{fmt(r.init[1])} ({o:.1f} orders {word})" for o, r in off[:checks.shared["max_names"]]]
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
    lines = [f"gradient RMS per element above {fmt(huge)} (from the {reference.optimizer} state) in "
             f"{len(grads)} tensors: " + _names([f"{r.name} {fmt(r.grad_rms)}" for r in grads],
                                                checks.shared["max_names"])] if grads else []
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
    """Per-step |dW|/|W| between consecutive checkpoints: layers that never move, layers that jump."""
    if len(scans) < 2:
        return []
    found = []
    jump = checks["updates-jump"].params["jump_above"]
    for scan in scans[1:]:
        jumped = [r for r in scan.parameters() if r.update_ratio is not None and r.update_ratio > jump]
        if jumped:
            lines = [f"per-step relative update |dW|/|W| above {fmt(jump)} (healthy ~1e-3) at {label(scan)}: "
                     + _names([f"{r.name} {fmt(r.update_ratio)}" for r in jumped], checks.shared["max_names"])]
            found.append(finding(checks, "updates-jump", shared, lines, step=scan.step, confidence=0.8,
                                 stats={"update_ratio": {r.name: r.update_ratio for r in jumped}}))
            break
    still = _still_layers(scans, checks["updates-still"].params["still_below"])
    if still:
        lines = [f"{len(still)} parameter tensors did not move between {label(scans[0])} and {label(scans[-1])} "
                 f"(per-step |dW|/|W| below {fmt(checks['updates-still'].params['still_below'])}): "
                 + _names([r.name for r in still], checks.shared["max_names"])]
        if scans[-1].optimizer is None:
            lines.append("no optimizer state saved: if these layers are frozen on purpose, ignore this")
        elif scans[-1].stateless:
            lines.append(f"{scans[-1].stateless} parameters in the optimizer never received a gradient "
                         "(requires_grad=False, or detached from the loss)")
        found.append(finding(checks, "updates-still", shared, lines, step=scans[-1].step, confidence=0.7,
                             stats={"layers": [r.name for r in still]}))
    return found


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
    records = [r for r in reference.records.values() if r.stats.finite]
    tests = [
        ("batchnorm-collapsed", "running_var", lambda r, p: r.stats.minimum < p["var_below"],
         lambda r: f"{r.layer} running_var min {fmt(r.stats.minimum)}"),
        ("batchnorm-exploded", "running_var", lambda r, p: r.stats.maximum > p["var_above"],
         lambda r: f"{r.layer} running_var max {fmt(r.stats.maximum)}"),
        ("norm-gain", "gain", lambda r, p: r.stats.rms < p["gain_below"],
         lambda r: f"{r.layer} gain RMS {fmt(r.stats.rms)}"),
    ]
    found = []
    for key, kind, fails, text in tests:
        params = checks[key].params
        bad = [r for r in records if _is(kind, r) and fails(r, params)]
        if bad:
            lines = [_names([text(r) for r in bad], checks.shared["max_names"])]
            found.append(finding(checks, key, shared, lines, step=reference.step, confidence=0.75,
                                 stats={"layers": [r.layer for r in bad]}))
    return found


def _is(kind: str, record: TensorRecord) -> bool:
    return record.role == "running_var" if kind == "running_var" else record.role in ("norm", "bn_weight")


def _names(items: list[str], limit: int) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _ends(items: list, n: int) -> list:
    return items if len(items) <= 2 * n else items[:n] + items[-n:]


def _geomean(values) -> float:
    values = [max(v, 1e-300) for v in values]
    return math.exp(sum(map(math.log, values)) / len(values))
