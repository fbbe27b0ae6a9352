"""The Python API the CLI calls: paths, frames or Runs in, a Report out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from diagnose import __version__
from diagnose.engine import diagnose
from diagnose.errors import InputError
from diagnose.ingest import find_runs, read_runs
from diagnose.report.downsample import downsample
from diagnose.report.model import Report, RunReport
from diagnose.rules import RuleSet, load_rules
from diagnose.run import Run

SPARK_SIGNALS = ("loss", "grad_norm", "val_loss", "lr")
SERIES_POINTS = 1000  # enough for --plot; sparklines shrink them again to the terminal width

Source = str | Path | pd.DataFrame | Run


def diagnose_run(
    source: Source,
    *,
    rules: RuleSet | None = None,
    rules_dirs: Sequence[Path] = (),
    input_format: str | None = None,
    num_classes: int | None = None,
) -> Report:
    """Diagnose one log file, run folder, folder of runs, DataFrame or Run.

    A frame needs a step column or a step index and signal columns under any common name
    (`loss`, `train/loss`, `grad_norm`, `learning_rate`, ...).
    """
    ruleset = rules or load_rules(rules_dirs)
    runs = list(read_source(source, input_format))
    return Report(runs=[report_run(run, ruleset, num_classes) for run in runs], version=__version__)


def read_source(source: Source, input_format: str | None = None) -> Iterable[Run]:
    """Every run in a source: a file, a run folder or a tree of runs, a frame, or a Run."""
    if isinstance(source, Run):
        yield source
    elif isinstance(source, pd.DataFrame):
        yield Run.from_frame(source)
    else:
        for path in run_paths(Path(source)):
            yield from read_runs(path, input_format)


def run_paths(path: Path) -> list[Path]:
    """The runs a path names: itself if a file, else every run found in the folder tree."""
    if not path.exists():
        raise InputError(path, "no such file or folder")
    if not path.is_dir():
        return [path]
    found = find_runs(path)
    if not found:
        raise InputError(path, "no training logs found in this folder")
    return found


def report_run(run: Run, ruleset: RuleSet, num_classes: int | None = None,
               sparklines: bool = True) -> RunReport:
    """One canonical run -> its RunReport, with downsampled signals for sparklines if asked."""
    if num_classes:
        run.meta["num_classes"] = num_classes
    report = diagnose(run, ruleset)
    if sparklines:
        report.series = {name: downsample(run.series(name), SERIES_POINTS) for name in SPARK_SIGNALS if run.has(name)}
    return report
