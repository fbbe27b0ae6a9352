"""A CSV exported from the Weights & Biases UI: `Step`, then `<run> - <metric>` columns (with
`__MIN`/`__MAX` companions). One run per `<run>` prefix."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from diagnose.ingest.base import RawRun
from diagnose.ingest.csv import header_columns
from diagnose.ingest.textio import first_line, read_head

name = "wandb_csv"
_COLUMN = re.compile(r"^(?P<run>.+?) - (?P<metric>.+)$")


def sniff(path: Path, head: bytes) -> float:
    columns = header_columns(first_line(head))
    runs = [m for m in map(_COLUMN.match, columns) if m]
    return 0.9 if runs and any(c.lower() in ("step", "_step") for c in columns) else 0.0


def read(path: Path) -> list[RawRun]:
    columns = header_columns(first_line(read_head(path)))
    step = next(c for c in columns if c.lower() in ("step", "_step"))
    by_run: dict[str, dict[str, str]] = {}
    for column in columns:
        match = _COLUMN.match(column)
        if match and not match["metric"].endswith(("__MIN", "__MAX")):
            by_run.setdefault(match["run"], {})[column] = match["metric"]
    wanted = [step, *[c for cols in by_run.values() for c in cols]]
    # UI exports are small; blank cells are "not logged", a written nan stays a value.
    table = pd.read_csv(path, usecols=wanted, dtype=str, keep_default_na=False, na_values=[""],
                        encoding="utf-8-sig")
    table = table[pd.to_numeric(table[step], errors="coerce").notna()]
    runs = []
    for run_name, metric_of in by_run.items():
        frame = table[[step, *metric_of]].rename(columns=metric_of)
        runs.append(RawRun(signals=_series(frame, step), source=str(path), format=name, name=run_name))
    return runs


def _series(frame: pd.DataFrame, step: str) -> dict[str, pd.Series]:
    index = pd.Index(pd.to_numeric(frame[step]).astype("int64").to_numpy(), name="step")
    out = {}
    for column in frame.columns:
        if column == step:
            continue
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
        present = ~frame[column].isna().to_numpy()
        out[column] = pd.Series(values[present], index=index[present], name=column)
    return out
