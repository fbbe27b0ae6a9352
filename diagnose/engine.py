"""The rule engine: run each rule's detector over a run and turn events into findings with
evidence-weighted, ranked causes."""

from __future__ import annotations

import numpy as np

from diagnose.detectors import get_detector
from diagnose.detectors.base import Event
from diagnose.evidence import get_evidence
from diagnose.report.model import (
    Cause,
    EvidenceHit,
    Finding,
    RunReport,
    SkippedRule,
    severity_rank,
)
from diagnose.rules import Rule, RuleSet
from diagnose.run import Run


def diagnose(run: Run, ruleset: RuleSet) -> RunReport:
    """Every rule over one run -> a RunReport (findings most severe and confident first)."""
    findings: list[Finding] = []
    skipped: list[SkippedRule] = []
    for rule in ruleset.rules.values():
        missing = missing_signals(run, rule.requires)
        if missing:
            skipped.append(SkippedRule(rule.id, missing))
            continue
        detector = get_detector(rule.detector)
        # Logs hold 1e308s and infs; overflow to inf in a ratio is the right answer, not news.
        with np.errstate(all="ignore"):
            findings += [_finding(rule, event, run, ruleset) for event in detector(run, rule.params)]
    findings = _drop_suppressed(findings, ruleset)
    findings.sort(key=lambda f: (-severity_rank(f.severity), -f.confidence, f.step or 0))
    return RunReport(
        source=run.source,
        format=run.format,
        steps=run.steps,
        signals=run.names,
        findings=findings,
        skipped=skipped,
        first_step=min((int(s.index[0]) for s in run.signals.values() if len(s)), default=None),
        last_step=run.last_step,
    )


def missing_signals(run: Run, requires: list[str]) -> list[str]:
    """The requirements the run does not meet; "a|b*" is met by a, or any signal starting b."""
    return [need for need in requires if not any(_present(run, alt) for alt in need.split("|"))]


def _present(run: Run, name: str) -> bool:
    if name.endswith("*"):
        return any(n.startswith(name[:-1]) and run.has(n) for n in run.names)
    return run.has(name)


def _finding(rule: Rule, event: Event, run: Run, ruleset: RuleSet) -> Finding:
    return Finding(
        symptom=rule.symptom,
        severity=_severity(rule, event),
        rule=rule.id,
        step=event.step,
        end_step=event.end_step,
        confidence=round(float(event.confidence), 3),
        evidence=event.evidence,
        causes=rank_causes(rule, event, run, ruleset),
        signal=event.signal,
        stats=event.stats,
    )


def _severity(rule: Rule, event: Event) -> str:
    for stat, severity in rule.severity_when.items():
        if event.stats.get(stat):
            return severity
    return rule.severity


def rank_causes(rule: Rule, event: Event, run: Run, ruleset: RuleSet) -> list[Cause]:
    """Score each cause as base + sum(weight x strength) over its evidence, clipped to [0, 1]."""
    strengths: dict[str, tuple[float, str]] = {}
    causes = []
    for cause_rule in rule.causes:
        hits = []
        for name, weight in cause_rule.evidence.items():
            if name not in strengths:
                definition = ruleset.evidence[name]
                strength, detail = get_evidence(definition.function)(run, event, definition.params)
                strengths[name] = (float(strength), detail)
            strength, detail = strengths[name]
            if strength > 0:
                hits.append(EvidenceHit(name, weight, strength, detail))
        score = cause_rule.base + sum(hit.delta for hit in hits)
        catalog = ruleset.causes[cause_rule.cause]
        fixes = list(dict.fromkeys(cause_rule.fixes + catalog.fixes))
        causes.append(Cause(cause_rule.cause, round(min(1.0, max(0.0, score)), 3), fixes,
                            cause_rule.base, hits))
    causes = [c for c in causes if c.score > 0]
    causes.sort(key=lambda c: -c.score)
    return causes


def _drop_suppressed(findings: list[Finding], ruleset: RuleSet) -> list[Finding]:
    """A rule may yield to a more specific symptom (a loss stuck at ln k is not also
    'underfitting'): drop its findings when a warning-or-worse finding of that symptom exists."""
    present = {f.symptom for f in findings if severity_rank(f.severity) >= 1}
    return [
        f for f in findings
        if not (set(ruleset.rules[f.rule].suppressed_by) & (present - {f.symptom}))
    ]
