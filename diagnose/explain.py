"""`diagnose explain ID`: what a symptom, cause or rule means, why it happens, how to fix it.

Everything printed comes from the rule files; nothing is written twice.
"""

from __future__ import annotations

from diagnose.errors import DiagnoseError
from diagnose.rules import Rule, RuleSet


def explain(topic: str, ruleset: RuleSet) -> str:
    """Plain text for a symptom id, a cause id or a rule id."""
    key = topic.strip().lower().replace("-", "_")
    if key in ruleset.causes:
        return _cause_text(key, ruleset)
    rules = ruleset.for_symptom(key) or [
        r for r in ruleset.rules.values() if r.id.replace("-", "_") == key
    ]
    if not rules:
        known = sorted({r.symptom for r in ruleset.rules.values()} | set(ruleset.causes))
        raise DiagnoseError(f"unknown symptom, cause or rule {topic!r}; known: {', '.join(known)}")
    return "\n\n".join(_rule_text(rule, ruleset) for rule in rules)


def _rule_text(rule: Rule, ruleset: RuleSet) -> str:
    doc = rule.doc
    lines = [
        f"{rule.symptom} (rule {rule.id}, severity {rule.severity}, detector {rule.detector})",
        "",
        f"What it detects: {doc.get('what', '')}",
        "",
        f"Why it happens: {doc.get('why', '')}",
    ]
    if doc.get("example"):
        lines += ["", f"Example: {doc['example']}"]
    if rule.params:
        lines += ["", "Thresholds: " + ", ".join(f"{k}={v}" for k, v in rule.params.items())]
    if rule.causes:
        lines += ["", "Causes it weighs (base score, then the evidence that moves it):"]
        for cause in rule.causes:
            moves = ", ".join(f"{w:+.2f} {name}" for name, w in cause.evidence.items())
            title = ruleset.causes[cause.cause].title
            lines.append(f"  - {cause.cause} ({title}): base {cause.base:.2f}" + (f"; {moves}" if moves else ""))
    fixes = doc.get("fixes", [])
    if fixes:
        lines += ["", "Fixes:"] + [f"  - {fix}" for fix in fixes]
    return "\n".join(lines)


def _cause_text(cause_id: str, ruleset: RuleSet) -> str:
    cause = ruleset.causes[cause_id]
    symptoms = sorted({r.symptom for r in ruleset.rules.values()
                       if any(c.cause == cause_id for c in r.causes)})
    lines = [
        f"{cause_id}: {cause.title}",
        "",
        f"What it is: {cause.what}",
        "",
        f"Why it happens: {cause.why}",
        "",
        f"Symptoms it can cause: {', '.join(symptoms) or '-'}",
        "",
        "Fixes:",
    ] + [f"  - {fix}" for fix in cause.fixes]
    return "\n".join(lines)
