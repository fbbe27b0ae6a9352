"""JUnit XML for CI systems that read it: one test case per rule per run.

A finding at or above the --fail-on severity fails its case; a rule the log lacked signals
for is skipped; a rule that ran and found nothing (or only lesser findings) passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree import ElementTree as ET

from diagnose.report.model import Report, RunReport, reaches


def render_junit(report: Report, rule_ids: Sequence[str], fail_on: str = "error") -> str:
    suites = ET.Element("testsuites", name="diagnose")
    for run in report.runs:
        suites.append(_suite(run, rule_ids, fail_on))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def _suite(run: RunReport, rule_ids: Sequence[str], fail_on: str) -> ET.Element:
    suite = ET.Element("testsuite", name=run.source)
    skipped = {s.rule: s.missing for s in run.skipped}
    failures = 0
    for rule_id in rule_ids:
        case = ET.SubElement(suite, "testcase", classname=run.source, name=rule_id)
        if rule_id in skipped:
            ET.SubElement(case, "skipped", message=f"needs {', '.join(skipped[rule_id])}")
            continue
        failing = [f for f in run.findings if f.rule == rule_id and reaches(f.severity, fail_on)]
        for finding in failing:
            failure = ET.SubElement(case, "failure", type=finding.symptom,
                                    message=f"{finding.symptom} ({finding.severity}) at step {finding.step}")
            causes = ", ".join(f"{c.cause} {c.score:.2f}" for c in finding.causes[:3])
            failure.text = "\n".join([*finding.evidence, f"causes: {causes}"])
        failures += bool(failing)
    suite.set("tests", str(len(rule_ids)))
    suite.set("failures", str(failures))
    suite.set("skipped", str(sum(r in skipped for r in rule_ids)))
    return suite
