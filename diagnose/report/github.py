"""GitHub Actions: workflow-command annotations, and the Markdown report for the job summary."""

from __future__ import annotations

import os
from pathlib import Path

from diagnose.report.markdown import render_markdown
from diagnose.report.model import Finding, Report

LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def render_github(report: Report) -> str:
    """One `::error`/`::warning`/`::notice` line per finding."""
    lines = []
    for run in report.runs:
        for finding in run.findings:
            lines.append(_annotation(run.source, finding))
        if not run.findings:
            lines.append(f"{run.source}: healthy")
    return "\n".join(lines)


def _annotation(source: str, finding: Finding) -> str:
    where = f"step {finding.step}" if finding.step is not None else "whole run"
    top = f"; likely {finding.causes[0].cause}: {finding.causes[0].fixes[0]}" if finding.causes else ""
    message = f"{finding.symptom} at {where}: {'; '.join(finding.evidence)}{top}"
    properties = f"file={_property(source)},title={_property(finding.symptom)}"
    return f"::{LEVEL[finding.severity]} {properties}::{_data(message)}"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def append_step_summary(report: Report) -> Path | None:
    """Append the Markdown report to $GITHUB_STEP_SUMMARY when the job provides one."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(render_markdown(report) + "\n")
    return Path(target)
