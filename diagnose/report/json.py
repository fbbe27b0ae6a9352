"""The JSON report of CONTRACT.md: contract keys first, documented extras after, never NaN."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from diagnose.report.model import Cause, EvidenceHit, Finding, Report, RunReport


def render_json(report: Report) -> str:
    """The report as JSON text (indent 2). Raises ValueError rather than emit NaN/Infinity."""
    return json.dumps(report_to_dict(report), indent=2, allow_nan=False)


def report_to_dict(report: Report) -> dict[str, Any]:
    return {"tool": report.tool, "version": report.version,
            "runs": [run_to_dict(run) for run in report.runs]}


def run_to_dict(run: RunReport) -> dict[str, Any]:
    return {
        "source": str(run.source),
        "format": run.format,
        "steps": int(run.steps),
        "signals": list(run.signals),
        "status": run.status,
        "findings": [finding_to_dict(f) for f in run.findings],
        # extras (CONTRACT.md: extend, never rename)
        "first_step": _int(run.first_step),
        "last_step": _int(run.last_step),
        "skipped_rules": [{"rule": s.rule, "missing": list(s.missing)} for s in run.skipped],
    }


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    return {
        "symptom": finding.symptom,
        "severity": finding.severity,
        "rule": finding.rule,
        "step": _int(finding.step),
        "end_step": _int(finding.end_step),
        "confidence": _fixed(finding.confidence),
        "evidence": [str(line) for line in finding.evidence],
        "causes": [cause_to_dict(c) for c in finding.causes],
        "signal": finding.signal,
        "stats": {str(k): plain(v) for k, v in finding.stats.items()},
    }


def cause_to_dict(cause: Cause) -> dict[str, Any]:
    return {
        "cause": cause.cause,
        "score": _fixed(cause.score),
        "fixes": list(cause.fixes),
        "evidence": [hit_to_dict(hit) for hit in cause.evidence],
    }


def hit_to_dict(hit: EvidenceHit) -> dict[str, Any]:
    return {"name": hit.name, "weight": _fixed(hit.weight), "strength": _fixed(hit.strength),
            "delta": _fixed(hit.delta), "detail": hit.detail}


def plain(value: Any) -> Any:
    """Any stats value -> JSON-safe Python: numpy scalars and arrays unwrapped, floats rounded,
    non-finite floats as the strings "nan", "inf", "-inf"."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _significant(float(value))
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    return str(value)


def _significant(x: float) -> float | str:
    """About 4 significant digits, but never fewer than the integer digits (12345.6 -> 12346.0)."""
    if not math.isfinite(x):
        return _non_finite(x)
    if x == 0:
        return 0.0
    return round(x, max(0, 3 - math.floor(math.log10(abs(x)))))


def _fixed(x: float) -> float | str:
    """Scores, confidences and weights: 3 decimals."""
    x = float(x)
    return round(x, 3) if math.isfinite(x) else _non_finite(x)


def _non_finite(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _int(x: Any) -> int | None:
    return None if x is None else int(x)
