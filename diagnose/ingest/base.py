"""What a format reader is: sniff a path, read it into raw signals."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from diagnose.run import Note


def point_series(row_steps: np.ndarray, rows, values, name: str) -> pd.Series:
    """A signal's points: `values` logged on rows `rows` of a log whose rows have the steps
    `row_steps` (row-oriented readers collect a signal as row numbers and values)."""
    index = pd.Index(row_steps[np.asarray(rows, dtype=np.int64)], name="step")
    return pd.Series(np.asarray(values, dtype="float64"), index=index, name=name)


@dataclass
class RawRun:
    """A reader's output, before names are normalised and steps are cleaned.

    `signals` maps the name as the log wrote it (e.g. "train/loss", "lm loss") to a float
    Series indexed by step, in file order, holding only the points the log really had: a
    missing cell is absent, a "nan" written by the trainer is NaN. Steps may repeat or go
    back (a resumed run); canonicalisation deals with that. `name` tells runs apart when one
    file holds several (a W&B export).
    """

    signals: dict[str, pd.Series]
    source: str
    format: str
    name: str = ""
    notes: list[Note] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    # Row-oriented readers also give the step of every row in file order, and for each
    # sparse signal the rows its points came from (a signal absent here has a point in
    # every row). With these, a resume is cut at the row level, across all signals at once.
    row_steps: np.ndarray | None = None
    rows: dict[str, np.ndarray] = field(default_factory=dict)


class Reader(Protocol):
    """One log format. Modules in diagnose/ingest/ expose these three names."""

    name: str

    def sniff(self, path: Path, head: bytes) -> float:
        """Confidence in [0, 1] that `path` is this format; `head` is its first 64 KiB."""
        ...

    def read(self, path: Path) -> list[RawRun]:
        """Read every run in `path`; raise InputError (naming the file) when it cannot."""
        ...
