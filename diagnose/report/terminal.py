"""The terminal report: per run a verdict, sparklines with finding markers, findings with their
evidence and ranked causes, and the rules that could not run. Plain text when colour is off."""

from __future__ import annotations

import os

import math

import pandas as pd
from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from diagnose.detectors.common import fmt
from diagnose.report import summary
from diagnose.report.downsample import downsample
from diagnose.report.model import Cause, Finding, Report, RunReport
from diagnose.report.sparkline import marker_line, sparkline

VERDICT_STYLE = {"healthy": "bold green", "warning": "bold yellow", "failed": "bold red"}
SEVERITY_STYLE = {"info": "cyan", "warning": "yellow", "error": "red"}
SERIES_ORDER = ("loss", "val_loss", "grad_norm", "lr")
OTHER_CAUSE_FIXES = 2


def render_terminal(report: Report, console: Console) -> None:
    """Print the report; with several runs a summary table comes first."""
    if len(report.runs) > 1:
        console.print(summary_table(report))
    for run in report.runs:
        console.print()
        render_run(run, console)


def summary_table(report: Report) -> Table:
    root = _common_folder([run.source for run in report.runs])
    title = f"{len(report.runs)} runs" + (f" in {root}" if root else "")
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("run", overflow="fold", min_width=min(20, max(len(r.source) - len(root) for r in report.runs)))
    for column in ("verdict", "findings", "first failure", "top symptom", "top cause"):
        table.add_column(column, no_wrap=column in ("verdict", "top symptom", "top cause"))
    for run in report.runs:
        top = summary.top_finding(run)
        first = summary.first_failure_step(run)
        table.add_row(
            Text(run.source[len(root):].lstrip("/") if root else run.source),  # a path, never markup
            Text(summary.verdict(run), style=VERDICT_STYLE[run.status]),
            str(len(run.findings)),
            "-" if first is None else str(first),
            top.symptom if top else "-",
            summary.top_cause(run) or "-",
        )
    return table


def _common_folder(sources: list[str]) -> str:
    """The folder all runs share ("" if none), so the table shows the part that differs."""
    folder = os.path.commonpath(sources) if len(sources) > 1 and all(s.startswith("/") == sources[0].startswith("/") for s in sources) else ""
    return folder if folder and folder not in sources else ""


def render_run(run: RunReport, console: Console) -> None:
    console.print(Text(run.source, style="bold"))
    console.print(_header(run))
    sparklines = _sparklines(run, console.width)
    if sparklines is not None:
        console.print(sparklines)
    if not run.findings:
        console.print(Text("  no problems found", style="green"))
    for finding in run.findings:
        console.print(_finding(finding))
    if run.skipped:
        skipped = ", ".join(summary.skipped_text(s) for s in run.skipped)
        console.print()
        console.print(_Hanging("", Text(f"skipped: {skipped}", style="dim"), 2))


def _header(run: RunReport) -> Text:
    span = summary.step_range(run.first_step, run.last_step)
    facts = [run.format, f"{run.steps} logged steps" + (f" ({span})" if span else ""),
             f"signals: {summary.signals_text(run.signals)}"]
    return Text.assemble("  ", (summary.verdict(run), VERDICT_STYLE[run.status]),
                         "  " + " · ".join(facts))


def _sparklines(run: RunReport, width: int) -> Group | None:
    """One line per signal, name | bars | min..max, with ^ under the findings on that signal."""
    names = [n for n in SERIES_ORDER if n in run.series]
    names += [n for n in run.series if n not in names]
    names = [n for n in names if len(run.series[n][0])]
    if not names:
        return None
    labels = {n: _range_label(run.series[n][1], _is_log(n)) for n in names}
    name_w = max(map(len, names))
    bars_w = max(10, width - (2 + name_w + 2) - (2 + max(map(len, labels.values()))))
    ranges = _ranges_by_signal(run.findings, names)
    lines: list[Text] = []
    for name in names:
        steps, values = run.series[name]
        steps, values = downsample(pd.Series(list(values), index=list(steps), dtype="float64"), bars_w)
        lines.append(Text.assemble(f"  {name:<{name_w}}  ", (sparkline(values, _is_log(name)), "cyan"),
                                   ("  " + labels[name], "dim")))
        marks = marker_line(steps, ranges.get(name, []))
        if marks.strip():
            lines.append(Text(" " * (2 + name_w + 2) + marks.rstrip(), style="bold red"))
    return Group(*lines)


def _is_log(name: str) -> bool:
    return name.startswith("grad_norm")


def _range_label(values: list[float], log: bool) -> str:
    finite = [float(v) for v in values if math.isfinite(v)]
    if not finite:
        return "no finite values"
    lo, hi = min(finite), max(finite)
    span = f"const {fmt(lo)}" if lo == hi else f"min {fmt(lo)} max {fmt(hi)}"
    return span + (" log" if log else "")


def _ranges_by_signal(findings: list[Finding], names: list[str]) -> dict[str, list[tuple]]:
    """Each finding's step range under the sparkline of its signal, else under the first one."""
    ranges: dict[str, list[tuple]] = {}
    for f in findings:
        if f.step is not None:
            ranges.setdefault(f.signal if f.signal in names else names[0], []).append((f.step, f.end_step))
    return ranges


def _finding(finding: Finding) -> Group:
    where = summary.step_range(finding.step, finding.end_step)
    title = Text.assemble(
        (f"{finding.severity.upper():<9}", "bold " + SEVERITY_STYLE[finding.severity]),
        (finding.symptom, "bold"),
        f"  {where}" if where else "",
        f"  confidence {finding.confidence:.2f}",
        (f"  rule {finding.rule}", "dim"),
    )
    parts: list = [Text(""), _Hanging("", title, 2)]
    parts += [_Hanging("• ", line, 4) for line in finding.evidence]
    if finding.causes:
        parts.append(_Hanging("", Text("likely causes:", style="bold"), 4))
    for rank, cause in enumerate(finding.causes, 1):
        parts += _cause(rank, cause)
    return Group(*parts)


def _cause(rank: int, cause: Cause) -> list[_Hanging]:
    """Score and id, the evidence that moved the score, then the fixes (all for the top cause)."""
    head = Text.assemble(f"{rank}. ", (f"{cause.score:.2f}", "bold"), "  ", (cause.cause, "bold magenta"))
    lines = [_Hanging("", head, 6)]
    for hit in cause.evidence:
        detail = f": {hit.detail}" if hit.detail else ""
        style = "green" if hit.delta > 0 else "red"
        lines.append(_Hanging(Text(f"{hit.delta:+.2f} ", style), f"{hit.name}{detail}", 9))
    fixes = cause.fixes if rank == 1 else cause.fixes[:OTHER_CAUSE_FIXES]
    lines += [_Hanging("fix: ", fix, 9) for fix in fixes]
    if len(fixes) < len(cause.fixes):
        more = f"+{len(cause.fixes) - len(fixes)} more: diagnose explain {cause.cause}"
        lines.append(_Hanging("", Text(more, style="dim"), 9))
    return lines


class _Hanging:
    """`prefix body` indented by `indent` columns, wrapped lines aligned under the body.

    With soft wrapping (output piped to a file or CI log) it stays one uncut line: a Padding
    there would crop the text at the console width instead of wrapping it.
    """

    def __init__(self, prefix: str | Text, body: str | Text, indent: int) -> None:
        self.prefix = Text(prefix) if isinstance(prefix, str) else prefix
        self.body = Text(body) if isinstance(body, str) else body
        self.indent = indent

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.no_wrap:
            yield Text.assemble(" " * self.indent, self.prefix, self.body)
            return
        if not self.prefix:
            yield Padding(self.body, (0, 0, 0, self.indent), expand=False)
            return
        grid = Table.grid()
        grid.add_column(no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row(self.prefix, self.body)
        yield Padding(grid, (0, 0, 0, self.indent), expand=False)
