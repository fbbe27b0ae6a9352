"""MLflow file store: `mlruns/<experiment>/<run>/metrics/<key>`, lines of `timestamp value step`.

A run folder is one run; keys may be nested (`metrics/train/loss`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from diagnose.errors import InputError
from diagnose.ingest.base import RawRun
from diagnose.ingest.signals import canonical_name

name = "mlflow"


def sniff(path: Path, head: bytes) -> float:
    return 0.0  # a single metric file is not a run; the run folder is


def claims_folder(path: Path) -> bool:
    return (path / "metrics").is_dir() and (path / "meta.yaml").is_file()


def read(path: Path) -> list[RawRun]:
    metrics = path / "metrics"
    if not metrics.is_dir():
        raise InputError(path, "not an MLflow run folder (no metrics/ inside)")
    signals = {}
    for file in sorted(p for p in metrics.rglob("*") if p.is_file()):
        key = file.relative_to(metrics).as_posix()
        if canonical_name(key):
            signals[key] = _metric(file)
    run_name = _run_name(path)
    return [RawRun(signals=signals, source=str(path), format=name,
                   meta={"run_name": run_name} if run_name else {})]


def _metric(file: Path) -> pd.Series:
    steps, values = [], []
    for line in file.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        try:
            value = float(parts[1])
            step = int(parts[2]) if len(parts) > 2 else len(steps)
        except ValueError:
            continue
        steps.append(step)
        values.append(value)
    return pd.Series(np.asarray(values, dtype="float64"), index=pd.Index(np.asarray(steps, dtype=np.int64), name="step"))


def _run_name(path: Path) -> str | None:
    for line in (path / "meta.yaml").read_text(errors="replace").splitlines():
        if line.startswith("run_name:"):
            return line.split(":", 1)[1].strip() or None
    return None
