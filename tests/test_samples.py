"""The rule set on the bundled sample logs (real torch training): each rule's own cases,
every symptom found with its expected top cause, healthy runs healthy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagnose.api import diagnose_run
from diagnose.rules import load_rules

from test_rules import CONTRACT_SYMPTOMS

SAMPLES = Path(__file__).resolve().parents[1] / "sample_logs"
RULES = load_rules()
MANIFEST = json.loads((SAMPLES / "manifest.json").read_text())
ENTRIES = MANIFEST["runs"] if isinstance(MANIFEST, dict) else MANIFEST
CASES = [(rule.id, case) for rule in RULES.rules.values() for case in rule.cases]
_reports: dict[str, object] = {}


def report_for(log: str):
    if log not in _reports:
        _reports[log] = diagnose_run(SAMPLES / log, rules=RULES).runs[0]
    return _reports[log]


@pytest.mark.parametrize("rule_id, case", CASES, ids=[f"{r}:{c['log']}" for r, c in CASES])
def test_rule_finds_its_case_with_the_expected_top_cause(rule_id, case):
    report = report_for(case["log"])
    found = [f for f in report.findings if f.rule == rule_id]
    assert found, f"{rule_id} found nothing in {case['log']}: {[f.rule for f in report.findings]}"
    low, high = case["first_step"]
    first = min(found, key=lambda f: f.step if f.step is not None else 0)
    assert low <= first.step <= high
    assert first.causes[0].cause == case["top_cause"], [(c.cause, c.score) for c in first.causes]


def test_every_contract_symptom_has_a_sample_case():
    covered = {RULES.rules[rule_id].symptom for rule_id, _ in CASES}
    assert CONTRACT_SYMPTOMS <= covered


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_sample_shows_its_labelled_symptoms_and_nothing_alarming_when_healthy(entry):
    report = report_for(entry["file"])
    reported = {f.symptom for f in report.findings if f.severity != "info"}
    assert set(entry["expected_symptoms"]) <= reported
    if not entry["expected_symptoms"]:
        assert report.status == "healthy", [(f.symptom, f.evidence) for f in report.findings]
    else:
        primary = [f for f in report.findings if f.symptom == entry["expected_symptoms"][0]]
        assert primary[0].causes[0].cause == entry["expected_top_cause"]
