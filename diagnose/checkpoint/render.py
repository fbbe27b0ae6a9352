"""`diagnose checkpoint` output: the layer table, then the findings through the shared renderers
(the JSON adds the checkpoints and layer rows to the checkpoint run, as CONTRACT.md extras)."""

from __future__ import annotations

import json

from rich.console import Console

from diagnose.checkpoint.analyze import CheckpointDiagnosis
from diagnose.checkpoint.hessian import HessianEstimate
from diagnose.checkpoint.table import layer_rows, markdown_table, rich_table
from diagnose.detectors.common import fmt
from diagnose.report.json import plain, report_to_dict
from diagnose.report.model import Report

VERDICTS = {"saddle": "saddle point (negative curvature at a critical point)",
            "minimum": "minimum (no clearly negative eigenvalue at a critical point)",
            "not_critical": "not a critical point (the gradient is not small: still descending)"}


def render(diagnosis: CheckpointDiagnosis, output_format: str, console: Console) -> str | None:
    """Text to print for json/markdown; the terminal format prints to `console` itself."""
    if output_format == "json":
        return render_json(diagnosis)
    if output_format == "markdown":
        return render_markdown(diagnosis)
    render_terminal(diagnosis, console)
    return None


def render_terminal(diagnosis: CheckpointDiagnosis, console: Console) -> None:
    from diagnose.report.terminal import render_terminal as render_report

    console.print(rich_table(diagnosis.reference, _measured(diagnosis)))
    render_report(diagnosis.report, console)


def render_json(diagnosis: CheckpointDiagnosis) -> str:
    data = report_to_dict(diagnosis.report)
    reference = diagnosis.reference
    data["runs"][0]["checkpoints"] = [
        {"path": str(s.path), "layout": s.layout, "step": s.step, "optimizer": s.optimizer,
         "lr": plain(s.lr), "optimizer_matched": s.matched, "reference": s is reference}
        for s in diagnosis.scans]
    data["runs"][0]["layers"] = plain(layer_rows(reference, _measured(diagnosis)))
    return json.dumps(data, indent=2, allow_nan=False)


def render_markdown(diagnosis: CheckpointDiagnosis) -> str:
    from diagnose.report.markdown import render_markdown as render_report

    return render_report(diagnosis.report) + "\n" + markdown_table(diagnosis.reference, _measured(diagnosis))


def _measured(diagnosis: CheckpointDiagnosis) -> bool:
    return diagnosis.reference is not diagnosis.scans[0]



def render_hessian(report: Report, result: HessianEstimate, output_format: str, console: Console) -> str | None:
    """The Hessian summary then the findings; JSON adds a `hessian` object to the run."""
    if output_format == "json":
        data = report_to_dict(report)
        data["runs"][0]["hessian"] = plain(result.as_dict())
        return json.dumps(data, indent=2, allow_nan=False)
    rows = [("parameters", str(result.parameters)), ("loss", fmt(result.loss)),
            ("gradient norm", fmt(result.grad_norm)), ("lambda max", fmt(result.top)),
            ("lambda min", fmt(result.bottom)), ("Hessian-vector products", str(result.products)),
            ("verdict", VERDICTS[result.verdict])]
    if output_format == "markdown":
        from diagnose.report.markdown import render_markdown as render_report

        table = ["| quantity | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)]
        return render_report(report) + "\n## Hessian\n\n" + "\n".join(table) + "\n"
    from rich.table import Table

    from diagnose.report.terminal import render_terminal as render_report

    table = Table(title="loss Hessian at the checkpoint", title_justify="left", show_header=False)
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    render_report(report, console)
    return None
