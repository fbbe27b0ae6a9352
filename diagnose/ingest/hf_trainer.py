"""Hugging Face Trainer `trainer_state.json`: its `log_history` is the run's metric log.

Train entries carry loss, grad_norm, learning_rate; eval entries eval_loss; the final
summary entry (train_runtime, and `train_loss` averaged over the run) is not a step's value.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from diagnose.errors import InputError
from diagnose.ingest.base import RawRun, point_series
from diagnose.ingest.signals import canonical_name

name = "hf_trainer"
SUMMARY_KEYS = {"train_runtime", "total_flos", "train_samples_per_second"}


def sniff(path: Path, head: bytes) -> float:
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    if not text.startswith("{") or '"log_history"' not in text and '"global_step"' not in text:
        return 0.0
    return 0.95 if path.name == "trainer_state.json" or '"log_history"' in text else 0.5


def claims_folder(path: Path) -> bool:
    """A Trainer output or checkpoint folder whose trainer_state.json is its log."""
    return (path / "trainer_state.json").is_file()


def _is_step(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read(path: Path) -> list[RawRun]:
    file = path / "trainer_state.json" if path.is_dir() else path
    try:
        state = json.loads(file.read_bytes())
    except ValueError as exc:
        raise InputError(file, f"not valid JSON ({exc})") from None
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise InputError(file, "no log_history list (not a Trainer state file)")
    entries = [e for e in history if isinstance(e, dict) and _is_step(e.get("step")) and not SUMMARY_KEYS & set(e)]
    columns: dict[str, tuple[list[int], list[float]]] = {}
    for row, entry in enumerate(entries):
        for key, value in entry.items():
            if canonical_name(key) and isinstance(value, (int, float)) and not isinstance(value, bool):
                rows, values = columns.setdefault(key, ([], []))
                rows.append(row)
                values.append(float(value))
    steps = np.asarray([int(e["step"]) for e in entries], dtype=np.int64)
    signals = {key: point_series(steps, rows, values, key) for key, (rows, values) in columns.items()}
    rows = {key: np.asarray(r, dtype=np.int64) for key, (r, _) in columns.items()}
    meta = {k: state[k] for k in ("global_step", "max_steps", "logging_steps", "eval_steps") if k in state}
    return [RawRun(signals=signals, source=str(file), format=name, meta=meta, row_steps=steps, rows=rows)]
