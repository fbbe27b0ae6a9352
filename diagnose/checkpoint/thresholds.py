"""rules/checkpoint/thresholds.toml: the checks' thresholds and cause weights, and the one way
a check turns measurements into a Finding with ranked causes (fixes from rules/causes.toml)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diagnose.errors import RuleError
from diagnose.report.model import SEVERITIES, Cause, EvidenceHit, Finding
from diagnose.rules import SYMPTOMS, CauseRule, RuleSet, builtin_rules_dir, load_rules

Evidence = dict[str, tuple[float, str]]  # name -> (strength 0..1, detail)


@dataclass
class Check:
    key: str
    rule: str
    symptom: str
    severity: str
    params: dict[str, Any]
    causes: list[CauseRule]


@dataclass
class Checks:
    checks: dict[str, Check]
    shared: dict[str, Any]
    ruleset: RuleSet
    path: str

    def __getitem__(self, key: str) -> Check:
        return self.checks[key]


def default_path() -> Path:
    return builtin_rules_dir() / "checkpoint" / "thresholds.toml"


def load_checks(path: Path | None = None, ruleset: RuleSet | None = None) -> Checks:
    path = Path(path or default_path())
    ruleset = ruleset or load_rules()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RuleError(f"{path}: cannot read the checkpoint thresholds ({exc})") from None
    shared = data.pop("shared", {})
    checks = {key: _check(key, table, path, ruleset) for key, table in data.items()}
    return Checks(checks, shared, ruleset, str(path))


def _check(key: str, table: dict[str, Any], path: Path, ruleset: RuleSet) -> Check:
    table = dict(table)
    try:
        causes = [CauseRule(c["cause"], float(c.get("base", 0.0)), dict(c.get("evidence", {})))
                  for c in table.pop("causes", [])]
        check = Check(key, table.pop("rule"), table.pop("symptom"), table.pop("severity", "warning"),
                      table, causes)
    except (KeyError, TypeError, ValueError) as exc:
        raise RuleError(f"{path}: check {key!r} is missing or has a malformed field {exc}") from None
    problems = [f"unknown cause {c.cause!r}" for c in causes if c.cause not in ruleset.causes]
    problems += [f"unknown symptom {check.symptom!r}"] if check.symptom not in SYMPTOMS else []
    problems += [f"unknown severity {check.severity!r}"] if check.severity not in SEVERITIES else []
    if problems:
        raise RuleError(f"{path}: check {key!r}: {'; '.join(problems)}")
    return check


def finding(checks: Checks, key: str, evidence: Evidence, lines: list[str], *, step: int | None,
            confidence: float, stats: dict[str, Any], severity: str | None = None) -> Finding:
    check = checks[key]
    return Finding(symptom=check.symptom, severity=severity or check.severity, rule=check.rule,
                   step=step, end_step=None, confidence=round(min(1.0, max(0.0, confidence)), 3),
                   evidence=lines, causes=rank_causes(checks, check, evidence), stats=stats)


def rank_causes(checks: Checks, check: Check, evidence: Evidence) -> list[Cause]:
    """base + sum(weight x strength), clipped to [0, 1]; causes at 0 are dropped."""
    causes = []
    for rule in check.causes:
        hits = []
        for name, weight in rule.evidence.items():
            if name not in evidence:
                raise RuleError(f"{checks.path}: check {check.key!r} names unknown evidence {name!r}")
            strength, detail = evidence[name]
            if strength > 0:
                hits.append(EvidenceHit(name, weight, strength, detail))
        score = min(1.0, max(0.0, rule.base + sum(hit.delta for hit in hits)))
        fixes = list(checks.ruleset.causes[rule.cause].fixes)
        causes.append(Cause(rule.cause, round(score, 3), fixes, rule.base, hits))
    return sorted((c for c in causes if c.score > 0), key=lambda c: -c.score)
