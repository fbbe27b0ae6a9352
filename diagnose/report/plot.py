"""`--plot FILE.png`: loss, validation loss, gradient norm (log) and LR on shared step axes,
finding ranges shaded and labeled, spike peaks marked. matplotlib (Agg) is imported only here.
"""

from __future__ import annotations

from pathlib import Path

from diagnose.report.model import Finding, RunReport

SEVERITY_COLOR = {"error": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}
BAND_ALPHA = 0.18
PANELS = (("loss", ("loss", "val_loss"), False), ("grad norm", ("grad_norm",), True), ("lr", ("lr",), False))


def render_plot(run: RunReport, path: Path) -> list[tuple[str, int, int]]:
    """Write the figure; return the (symptom, start, end) bands it shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in PANELS if any(name in run.series for name in p[1])]
    figure, axes = plt.subplots(max(1, len(panels)), 1, sharex=True, figsize=(10, 2.4 * max(1, len(panels))),
                                squeeze=False)
    bands = []
    for axis, (title, names, log) in zip(axes[:, 0], panels):
        for name in names:
            if name in run.series:
                steps, values = run.series[name]
                axis.plot(steps, values, linewidth=1, label=name)
        if log:
            axis.set_yscale("log")
        axis.set_ylabel(title)
        bands = _shade(axis, run)
        if len(names) > 1:
            axis.legend(loc="upper right", fontsize=8)
    axes[0, 0].set_title(f"{Path(run.source).name}: {run.status}")
    _label_bands(axes[0, 0], run)
    axes[-1, 0].set_xlabel("step")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return bands


def finding_bands(run: RunReport) -> list[tuple[Finding, int, int]]:
    """Each finding with a step, and its first and last step."""
    return [(f, f.step, f.end_step if f.end_step is not None else f.step) for f in run.findings if f.step is not None]


def _shade(axis, run: RunReport) -> list[tuple[str, int, int]]:
    bands = finding_bands(run)
    for finding, start, end in bands:
        axis.axvspan(start, max(end, start + 1), color=SEVERITY_COLOR[finding.severity], alpha=BAND_ALPHA, linewidth=0)
        if "peak_step" in finding.stats and finding.signal == "loss" and axis.get_ylabel() == "loss":
            axis.plot([finding.stats["peak_step"]], [finding.stats["peak"]], "v", color=SEVERITY_COLOR[finding.severity])
    return [(finding.symptom, start, end) for finding, start, end in bands]


def _label_bands(axis, run: RunReport) -> None:
    for finding in run.findings:
        if finding.step is not None:
            axis.annotate(finding.symptom, xy=(finding.step, 1.0), xycoords=("data", "axes fraction"),
                          fontsize=8, color=SEVERITY_COLOR[finding.severity], va="bottom", rotation=0)
