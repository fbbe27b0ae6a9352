"""The Markdown report: a remediation note to paste into an issue or PR (GitHub-flavoured)."""

from __future__ import annotations

from collections.abc import Sequence

from diagnose.report import summary
from diagnose.report.model import Cause, Finding, Report, RunReport, severity_rank

VERDICT_BADGE = {"healthy": "✅ healthy", "warning": "⚠️ warning", "failed": "❌ failed"}


def render_markdown(report: Report) -> str:
    lines = ["# Training-run diagnosis", "",
             f"{report.tool} {report.version} · {_counts(report)}", ""]
    lines += _table(["run", "verdict", "findings", "first failure step", "top cause"],
                    [_summary_row(run) for run in report.runs])
    lines.append("")
    for run in report.runs:
        lines += _run_section(run)
    return "\n".join(lines).rstrip() + "\n"


def _counts(report: Report) -> str:
    statuses = [run.status for run in report.runs]
    parts = [f"{statuses.count(s)} {s}" for s in ("failed", "warning", "healthy") if s in statuses]
    noun = "run" if len(statuses) == 1 else "runs"
    return f"{len(statuses)} {noun}" + (f": {', '.join(parts)}" if parts else "")


def _summary_row(run: RunReport) -> list[str]:
    first = summary.first_failure_step(run)
    cause = summary.top_cause(run)
    return [code(run.source), VERDICT_BADGE[run.status], str(len(run.findings)),
            "-" if first is None else str(first), code(cause) if cause else "-"]


def _run_section(run: RunReport) -> list[str]:
    span = summary.step_range(run.first_step, run.last_step)
    facts = [run.format, f"{run.steps} logged steps" + (f" ({span})" if span else ""),
             "signals: " + (", ".join(code(s) for s in run.signals) or "none")]
    lines = [f"## {code(run.source)}: {VERDICT_BADGE[run.status]}", "", text(" · ".join(facts)), ""]
    if not run.findings:
        lines += ["No problems found.", ""]
    for finding in run.findings:
        lines += _finding_section(finding)
    lines += _checklist(run.findings)
    if run.skipped:
        lines += ["Skipped rules: " + ", ".join(summary.skipped_text(s, code) for s in run.skipped), ""]
    return lines


def _finding_section(finding: Finding) -> list[str]:
    where = summary.step_range(finding.step, finding.end_step)
    lines = [f"### {code(finding.symptom)} ({finding.severity})" + (f", {where}" if where else ""), "",
             f"Rule {code(finding.rule)}, confidence {finding.confidence:.2f}.", ""]
    lines += [f"- {text(line)}" for line in finding.evidence]
    if finding.evidence:
        lines.append("")
    if finding.causes:
        rows = [[str(rank), code(c.cause), f"{c.score:.2f}", _moved_by(c)]
                for rank, c in enumerate(finding.causes, 1)]
        lines += [*_table(["rank", "cause", "score", "evidence that moved it"], rows), ""]
    return lines


def _moved_by(cause: Cause) -> str:
    hits = [f"{hit.delta:+.2f} {code(hit.name)}" + (f": {text(hit.detail)}" if hit.detail else "")
            for hit in cause.evidence]
    return "<br>".join(hits) or "-"


def _checklist(findings: Sequence[Finding]) -> list[str]:
    """The fixes of each problem's top cause, deduplicated, as a task list."""
    fixes: dict[str, str] = {}
    for finding in findings:
        if severity_rank(finding.severity) > 0 and finding.causes:
            top = finding.causes[0]
            for fix in top.fixes:
                fixes.setdefault(fix, top.cause)
    if not fixes:
        return []
    return ["### What to change", "",
            *[f"- [ ] {text(fix)} ({code(cause)})" for fix, cause in fixes.items()], ""]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(cell(c) for c in cells) + " |"

    return [row(header), "| " + " | ".join("---" for _ in header) + " |", *map(row, rows)]


def code(value: str) -> str:
    """An inline code span that survives backticks in the value."""
    value = str(value)
    fence = "``" if "`" in value else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def text(value: str) -> str:
    """Prose: keep '<...>' (e.g. '<memory>') from being read as an HTML tag, except inside
    `code spans`, where Markdown shows text as it is."""
    parts = str(value).split("`")
    parts[::2] = [part.replace("<", "&lt;") for part in parts[::2]]
    return "`".join(parts)


def cell(value: str) -> str:
    """A table cell: '|' escaped (GitHub honours it inside code spans too), one line."""
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")
