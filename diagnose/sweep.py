"""Many runs at once: a folder tree of runs diagnosed across processes.

Workers load the rule set once each; reports come back in the order of the runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from diagnose.api import report_run
from diagnose.errors import DiagnoseError
from diagnose.ingest import read_runs
from diagnose.report.model import RunReport
from diagnose.rules import RuleSet, load_rules
from diagnose.run import Run

# Below this many runs, starting worker processes costs more than it saves.
PARALLEL_FROM = 16

Progress = Callable[[int, int], None]


@dataclass
class Unreadable:
    path: str
    problem: str


@dataclass
class _Job:
    path: Path
    rules_dirs: tuple[Path, ...]
    input_format: str | None
    num_classes: int | None
    baseline: Path | None = None
    sparklines: bool = True


def diagnose_many(paths: Sequence[Path], *, rules_dirs: Sequence[Path] = (), input_format: str | None = None,
                  num_classes: int | None = None, jobs: int | None = None,
                  progress: Progress | None = None,
                  baseline: Path | None = None,
                  sparklines: bool = True) -> tuple[list[RunReport], list[Unreadable]]:
    """Diagnose every run path; a run that cannot be read is returned as Unreadable.
    With a baseline run, each run is also compared with it. `sparklines=False` skips the
    downsampled signals that only the terminal report and plots draw."""
    work = [_Job(Path(p), tuple(rules_dirs), input_format, num_classes, baseline, sparklines) for p in paths]
    workers = jobs or os.cpu_count() or 1
    if workers > 1 and len(work) >= PARALLEL_FROM:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = _collect(pool.map(_diagnose_job, work, chunksize=8), len(work), progress)
    else:
        results = _collect(map(_diagnose_job, work), len(work), progress)
    reports = [r for result in results if not isinstance(result, Unreadable) for r in result]
    return reports, [r for r in results if isinstance(r, Unreadable)]


def _collect(results, total: int, progress: Progress | None) -> list:
    collected = []
    for done, result in enumerate(results, start=1):
        collected.append(result)
        if progress:
            progress(done, total)
    return collected


@cache
def ruleset(rules_dirs: tuple[Path, ...]) -> RuleSet:
    """The rule set, loaded once per process (the CLI's check of the rule files included)."""
    return load_rules(rules_dirs)


@cache
def _baseline(path: Path) -> Run:
    """Read once per worker process, not once per run it is compared with."""
    return read_runs(path)[0]


def _diagnose_job(job: _Job) -> list[RunReport] | Unreadable:
    try:
        runs = read_runs(job.path, job.input_format)
        baseline = _baseline(job.baseline) if job.baseline else None
    except DiagnoseError as exc:
        return Unreadable(str(job.path), str(exc))
    for run in runs:
        run.meta["baseline"] = baseline
    return [report_run(run, ruleset(job.rules_dirs), job.num_classes, job.sparklines) for run in runs]
