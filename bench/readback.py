"""Read a corpus log back into arrays, so labels are measured on exactly what was written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.writers import CSV_STYLES, JSONL_STYLES

# every spelling the writers use -> canonical name
_NAMES = {name: canonical for style in CSV_STYLES + JSONL_STYLES for canonical, name in style.items()}
LAYER_PREFIX = "grad_norm/"


@dataclass
class Logged:
    steps: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    val_steps: np.ndarray
    val_loss: np.ndarray
    layers: dict[str, np.ndarray] = field(default_factory=dict)


def read(path: Path) -> Logged:
    """The columns of a CSV or JSON Lines log; a blank cell or absent key is 'not logged'."""
    rows = _csv_rows(path) if path.suffix == ".csv" else _jsonl_rows(path)
    keys = dict.fromkeys(key for row in rows for key in row)
    named = {_NAMES.get(k, k): [row.get(k) for row in rows] for k in keys}
    steps = np.array(named["step"], dtype=np.int64)
    val = named.get("val_loss", [None] * len(steps))
    present = np.array([v is not None for v in val], dtype=bool)
    return Logged(
        steps, _floats(named["loss"]), _floats(named["grad_norm"]), steps[present],
        _floats([v for v in val if v is not None]),
        {k[len(LAYER_PREFIX):]: _floats(v) for k, v in named.items() if k.startswith(LAYER_PREFIX)},
    )


def _floats(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _csv_rows(path: Path) -> list[dict[str, float]]:
    with open(path) as handle:
        header = handle.readline().rstrip("\n").split(",")
        return [{k: float(c) for k, c in zip(header, line.rstrip("\n").split(",")) if c != ""}
                for line in handle if line.strip()]


def _jsonl_rows(path: Path) -> list[dict[str, float]]:
    with open(path) as handle:
        return [{k: float(v) for k, v in json.loads(line).items()} for line in handle if line.strip()]
