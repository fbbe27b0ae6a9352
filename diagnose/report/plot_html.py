"""`--plot FILE.html`: the same panels as the PNG as one self-contained interactive page
(plotly, its JavaScript inlined: opens offline, zooms to the step). plotly is imported only here.
"""

from __future__ import annotations

from pathlib import Path

from diagnose.report.model import RunReport
from diagnose.report.plot import BAND_ALPHA, PANELS, SEVERITY_COLOR, finding_bands


def render_html(run: RunReport, path: Path) -> list[tuple[str, int, int]]:
    """Write the page; return the (symptom, start, end) bands it shaded."""
    from plotly.subplots import make_subplots

    panels = [p for p in PANELS if any(name in run.series for name in p[1])] or PANELS[:1]
    figure = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.04)
    for row, (title, names, log) in enumerate(panels, start=1):
        for name in names:
            if name in run.series:
                steps, values = run.series[name]
                figure.add_scatter(x=steps, y=values, name=name, mode="lines", row=row, col=1)
        figure.update_yaxes(title_text=title, type="log" if log else "linear", row=row, col=1)
    bands = _shade(figure, run)
    figure.update_xaxes(title_text="step", row=len(panels), col=1)
    figure.update_layout(title=f"{Path(run.source).name}: {run.status}", height=260 * len(panels) + 80,
                         hovermode="x unified")
    figure.write_html(path, include_plotlyjs=True, full_html=True)
    return bands


def _shade(figure, run: RunReport) -> list[tuple[str, int, int]]:
    bands = finding_bands(run)
    for finding, start, end in bands:
        color = SEVERITY_COLOR[finding.severity]
        figure.add_vrect(x0=start, x1=max(end, start + 1), fillcolor=color, opacity=BAND_ALPHA, line_width=0,
                         annotation_text=finding.symptom, annotation_position="top left", row="all", col=1)
        if "peak_step" in finding.stats and finding.signal == "loss":
            figure.add_scatter(x=[finding.stats["peak_step"]], y=[finding.stats["peak"]], mode="markers",
                               marker_symbol="triangle-down", marker_color=color,
                               name=f"{finding.symptom} peak", row=1, col=1)
    return [(finding.symptom, start, end) for finding, start, end in bands]
