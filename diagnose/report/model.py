"""The report: plain dataclasses that every renderer reads (shape fixed by CONTRACT.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "warning", "error")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def reaches(severity: str, threshold: str) -> bool:
    """A finding of `severity` meets a --fail-on / --exit-on threshold; "never" is met by none."""
    return threshold != "never" and severity_rank(severity) >= severity_rank(threshold)


@dataclass
class EvidenceHit:
    """One piece of evidence that moved a cause's score: its name, weight and strength."""

    name: str
    weight: float
    strength: float  # 0..1, how strongly the evidence holds in this run
    detail: str = ""

    @property
    def delta(self) -> float:
        return self.weight * self.strength


@dataclass
class Cause:
    cause: str  # a cause id from CONTRACT.md
    score: float
    fixes: list[str]
    base: float = 0.0
    evidence: list[EvidenceHit] = field(default_factory=list)


@dataclass
class Finding:
    symptom: str  # a symptom id from CONTRACT.md
    severity: str
    rule: str
    step: int | None
    end_step: int | None
    confidence: float
    evidence: list[str]
    causes: list[Cause] = field(default_factory=list)
    signal: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass
class SkippedRule:
    rule: str
    missing: list[str]  # signals the rule needs that the run does not have


@dataclass
class RunReport:
    source: str
    format: str
    steps: int
    signals: list[str]
    findings: list[Finding]
    skipped: list[SkippedRule] = field(default_factory=list)
    first_step: int | None = None
    last_step: int | None = None
    series: dict[str, Any] = field(default_factory=dict)  # downsampled signals for sparklines

    @property
    def status(self) -> str:
        worst = max((severity_rank(f.severity) for f in self.findings), default=0)
        return {0: "healthy", 1: "warning", 2: "failed"}[worst]


@dataclass
class Report:
    runs: list[RunReport]
    tool: str = "diagnose"
    version: str = "0.1.0"

    def worst_severity(self) -> str | None:
        ranks = [severity_rank(f.severity) for r in self.runs for f in r.findings]
        return SEVERITIES[max(ranks)] if ranks else None
