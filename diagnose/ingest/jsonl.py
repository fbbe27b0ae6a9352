"""JSON Lines: one JSON object per line (trainer metric dumps, wandb-history.jsonl, ...)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from diagnose.errors import InputError
from diagnose.ingest.base import RawRun, point_series
from diagnose.ingest.jsonl_fast import read_numbers
from diagnose.ingest.numbers import as_float
from diagnose.ingest.signals import canonical_name, is_step_name, pick_step_column
from diagnose.ingest.textio import open_binary
from diagnose.run import Note

name = "jsonl"


def sniff(path: Path, head: bytes) -> float:
    lines = [line.strip() for line in head.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()]
    objects = [line for line in lines[:20] if line]
    if not objects or not all(line.startswith("{") for line in objects):
        return 0.0
    try:
        first = json.loads(objects[0])
    except ValueError:
        return 0.0
    if not isinstance(first, dict) or len(objects) < 2 and path.suffix.lower() == ".json":
        return 0.0
    keys = list(_flatten(first))
    known = any(canonical_name(k) or is_step_name(k) for k in keys)
    suffix = path.suffix.lower() in (".jsonl", ".ndjson") or path.name.endswith(".jsonl.gz")
    return (0.6 if known else 0.3) + (0.3 if suffix else 0.0)


def read(path: Path) -> list[RawRun]:
    fast = read_numbers(path)
    columns, rows, notes = (*fast, []) if fast is not None else _read_line_by_line(path)
    row_steps, signals, signal_rows = _signals(columns, rows, notes)
    return [RawRun(signals=signals, source=str(path), format=name, notes=notes,
                   row_steps=row_steps, rows=signal_rows)]


def _read_line_by_line(path: Path) -> tuple[dict, int, list[Note]]:
    """Every line decoded by Python's json: NaN tokens, numbers as strings, one-element lists,
    a cut last line (a note) and a broken middle line (an error naming it)."""
    columns: dict[str, tuple[list[int], list[float]]] = {}
    notes: list[Note] = []
    rows = 0
    lines = _numbered_lines(path)
    for number, line in lines:
        obj = _parse_line(path, number, line, lines)
        if obj is None:
            notes.append(Note("truncated", f"line {number} is incomplete (the log was cut off): "
                              "read every complete line before it"))
            break
        if not isinstance(obj, dict):
            continue
        for key, value in _flatten(obj).items():
            number_value = as_float(value)
            if number_value is not None:
                rows_, values = columns.setdefault(key, ([], []))
                rows_.append(rows)
                values.append(number_value)
        rows += 1
    if rows == 0:
        raise InputError(path, "no JSON objects found")
    return columns, rows, notes


class _numbered_lines:
    """Non-blank lines with 1-based numbers; knows whether more lines follow."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pending: list[tuple[int, bytes]] = []
        self._iter = self._lines()

    def _lines(self):
        with open_binary(self.path) as handle:
            for number, raw in enumerate(handle, start=1):
                if raw.strip():
                    yield number, raw

    def __iter__(self):
        return self

    def __next__(self) -> tuple[int, bytes]:
        if self._pending:
            return self._pending.pop()
        return next(self._iter)

    def more(self) -> bool:
        if not self._pending:
            try:
                self._pending.append(next(self._iter))
            except StopIteration:
                return False
        return True


def _parse_line(path: Path, number: int, line: bytes, lines: _numbered_lines) -> object | None:
    """The line's JSON value; None for a broken final line; InputError for a broken middle one."""
    try:
        return json.loads(line.lstrip(b"\xef\xbb\xbf"))
    except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError for non-UTF-8 bytes
        if not lines.more():
            return None
        where = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise InputError(path, f"line {number} is not valid JSON ({where})") from None


def _flatten(obj: dict, prefix: str = "") -> dict:
    """One level of nesting becomes 'outer/inner' (wandb and Lightning write nested dicts)."""
    flat = {}
    for key, value in obj.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{full}/"))
        else:
            flat[full] = value
    return flat


def _signals(columns: dict, rows: int, notes: list[Note]) -> tuple[np.ndarray, dict[str, pd.Series], dict[str, np.ndarray]]:
    """Row steps, per-signal series, and each signal's row numbers among the kept rows."""
    step_col = pick_step_column(list(columns))
    if step_col is None:
        row_steps = np.arange(rows, dtype=np.int64)
        has_step = np.ones(rows, dtype=bool)
    else:
        step_rows, step_values = columns.pop(step_col)
        row_steps = np.zeros(rows, dtype=np.int64)
        has_step = np.zeros(rows, dtype=bool)
        step_values = np.asarray(step_values, dtype=np.float64)
        finite = np.abs(step_values) < 2.0**63  # NaN, Inf and steps beyond int64 count as no step
        row_steps[np.asarray(step_rows)[finite]] = step_values[finite].astype(np.int64)
        has_step[np.asarray(step_rows)[finite]] = True
        if not has_step.all():
            notes.append(Note("unparsed_lines", f"{int((~has_step).sum())} line(s) have no "
                              f"{step_col!r} and were left out"))
    kept_row_number = np.cumsum(has_step) - 1
    signals, signal_rows = {}, {}
    for key, (row_ids, values) in columns.items():
        if not canonical_name(key):
            continue
        row_ids = np.asarray(row_ids)
        keep = has_step[row_ids]
        signals[key] = point_series(row_steps, row_ids[keep], np.asarray(values, dtype="float64")[keep], key)
        signal_rows[key] = kept_row_number[row_ids[keep]]
    return row_steps[has_step], signals, signal_rows
