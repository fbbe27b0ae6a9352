"""The API the CLI calls: checkpoint paths of one run -> a Report (+ the scans for the layer table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from diagnose import __version__
from diagnose.checkpoint.checks import reference_scan, run_checks
from diagnose.checkpoint.load import Checkpoint, expand, load_checkpoint
from diagnose.checkpoint.scan import Scan, scan
from diagnose.checkpoint.thresholds import Checks, load_checks
from diagnose.errors import InputError
from diagnose.report.model import Report, RunReport


@dataclass
class CheckpointDiagnosis:
    report: Report
    scans: list[Scan]  # oldest first

    @property
    def reference(self) -> Scan:
        return reference_scan(self.scans)


def diagnose_checkpoints(paths: Sequence[str | Path], checks: Checks | None = None) -> CheckpointDiagnosis:
    """Checkpoints of one run (files, Hugging Face checkpoint folders, or a folder of them)."""
    checks = checks or load_checks()
    checkpoints = _ordered([load_checkpoint(p) for p in expand([Path(p) for p in paths])])
    scans = _scan_all(checkpoints)
    run = _run_report(scans, run_checks(scans, checks))
    runs = [run, *_trainer_logs(checkpoints[-1])]
    return CheckpointDiagnosis(Report(runs=runs, version=__version__), scans)


def _ordered(checkpoints: list[Checkpoint]) -> list[Checkpoint]:
    """By step when every checkpoint knows its step, else in the order given."""
    if all(c.step is not None for c in checkpoints):
        return sorted(checkpoints, key=lambda c: c.step)
    return checkpoints


def _scan_all(checkpoints: list[Checkpoint]) -> list[Scan]:
    scans: list[Scan] = []
    previous: Checkpoint | None = None
    try:
        for checkpoint in checkpoints:
            scans.append(scan(checkpoint, previous, scans[-1] if scans else None))
            if previous is not None:
                previous.close()
            previous = checkpoint
    finally:
        for checkpoint in checkpoints:
            checkpoint.close()
    return scans


def _run_report(scans: list[Scan], findings) -> RunReport:
    steps = [s.step for s in scans if s.step is not None]
    signals = ["weights"]
    signals += ["optimizer_state"] if any(s.optimizer for s in scans) else []
    signals += ["updates"] if len(scans) > 1 else []
    source = str(scans[0].path) if len(scans) == 1 else f"{scans[0].path} .. {scans[-1].path}"
    layouts = sorted({s.layout for s in scans})
    return RunReport(source=source, format="checkpoint:" + "+".join(layouts), steps=len(scans),
                     signals=signals, findings=findings,
                     first_step=min(steps, default=None), last_step=max(steps, default=None))


def _trainer_logs(checkpoint: Checkpoint) -> list[RunReport]:
    """A Hugging Face folder's trainer_state.json is also a log: diagnose it as one."""
    if checkpoint.log is None:
        return []
    from diagnose.api import diagnose_run

    try:
        return diagnose_run(checkpoint.log).runs
    except InputError:
        return []  # a log with no usable history: the checkpoint report stands on its own
