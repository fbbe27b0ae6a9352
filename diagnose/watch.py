"""Follow a log that is still being written and report each new finding once.

Only the bytes appended since the last poll are read and parsed (complete lines only), and
each update diagnoses a bounded window of the latest points, so the cost per update does not
grow with the length of the log. CSV and JSON Lines are followed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from diagnose.engine import diagnose
from diagnose.errors import InputError
from diagnose.ingest.base import RawRun
from diagnose.ingest.canonical import canonicalize
from diagnose.ingest.csv import guess_delimiter
from diagnose.ingest.signals import canonical_name, pick_step_column
from diagnose.report.model import Finding, RunReport
from diagnose.rules import RuleSet


class LineFollower:
    """New complete lines of a growing file, from where the last call stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.pending = b""
        self.skip_partial = False

    def start_near_end(self, keep_bytes: int) -> None:
        """Skip all but the last `keep_bytes` of what is already written (from a line start)."""
        size = self.path.stat().st_size if self.path.exists() else 0
        if size > keep_bytes:
            self.offset = size - keep_bytes
            self.skip_partial = True

    def new_lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        data = self.pending + chunk
        complete, _, self.pending = data.rpartition(b"\n")
        if self.skip_partial and complete:
            complete = complete.partition(b"\n")[2]
            self.skip_partial = False
        return [line for line in complete.decode("utf-8", errors="replace").split("\n") if line.strip()]


class RowWindow:
    """The latest `size` rows of a log, in numpy ring buffers (one per column)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.steps = np.zeros(size, dtype=np.int64)
        self.columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # values, present
        self.count = 0  # rows ever added

    def __len__(self) -> int:
        return min(self.count, self.size)

    def add(self, step: int, values: dict[str, float]) -> None:
        slot = self.count % self.size
        self.steps[slot] = step
        for column, (_, present) in self.columns.items():
            present[slot] = column in values
        for column, value in values.items():
            if column not in self.columns:
                self.columns[column] = (np.zeros(self.size), np.zeros(self.size, dtype=bool))
                self.columns[column][1][slot] = True
            self.columns[column][0][slot] = value
        self.count += 1

    def raw_run(self, source: str, fmt: str) -> RawRun:
        order = np.arange(self.count - len(self), self.count) % self.size
        steps = self.steps[order]
        signals, rows = {}, {}
        for column, (values, present) in self.columns.items():
            kept = present[order]
            signals[column] = pd.Series(values[order][kept], index=pd.Index(steps[kept], name="step"))
            rows[column] = np.flatnonzero(kept)
        return RawRun(signals=signals, source=source, format=fmt, row_steps=steps, rows=rows)


class _CsvRows:
    def __init__(self) -> None:
        self.header: list[str] | None = None
        self.delimiter = ","
        self.rows = 0

    def parse(self, line: str) -> tuple[int, dict[str, float]] | None:
        if self.header is None:
            self.delimiter = guess_delimiter(line) or ","
            self.header = [c.strip().strip('"') for c in line.lstrip("\ufeff").split(self.delimiter)]
            self.step_col = pick_step_column(self.header)
            return None
        cells = line.split(self.delimiter)
        if len(cells) != len(self.header):
            return None
        record = dict(zip(self.header, (c.strip() for c in cells)))
        self.rows += 1
        return _record(record, self.step_col, self.rows - 1)


class _JsonRows:
    def __init__(self) -> None:
        self.step_col: str | None = None
        self.rows = 0

    def parse(self, line: str) -> tuple[int, dict[str, float]] | None:
        try:
            record = json.loads(line)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        self.step_col = self.step_col or pick_step_column(list(record))
        self.rows += 1
        return _record(record, self.step_col, self.rows - 1)


def _record(record: dict, step_col: str | None, row: int) -> tuple[int, dict[str, float]] | None:
    """(step, signal values) of one row; the row number is the step when there is no column."""
    values = {}
    for key, cell in record.items():
        if key == step_col or not canonical_name(key) or cell in ("", None):
            continue
        try:
            values[key] = float(cell)
        except (TypeError, ValueError):
            continue
    try:
        step = int(float(record[step_col])) if step_col else row
    except (KeyError, TypeError, ValueError):
        return None
    return step, values


@dataclass
class Watcher:
    """Incremental diagnosis of one growing log."""

    path: Path
    ruleset: RuleSet
    window: int = 100_000
    num_classes: int | None = None
    reported: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.follower = LineFollower(self.path)
        self.parser = _JsonRows() if self.path.suffix.lower() in (".jsonl", ".ndjson") else _CsvRows()
        self.rows = RowWindow(self.window)
        self.format = "jsonl" if isinstance(self.parser, _JsonRows) else "csv"
        self._start_near_end()

    def _start_near_end(self) -> None:
        """A log already millions of lines long: read its header, then only the last window."""
        if not self.path.exists():
            return
        if isinstance(self.parser, _CsvRows):
            with open(self.path, "rb") as handle:
                header = handle.readline().decode("utf-8", errors="replace")
            if header.endswith("\n"):
                self.parser.parse(header.rstrip("\r\n"))
                self.follower.offset = len(header.encode("utf-8", errors="replace"))
        self.follower.start_near_end(int(self.window * _line_length(self.path) * 1.5))

    def update(self) -> list[Finding]:
        """Read what was appended, re-diagnose the window, return the findings not seen before."""
        for line in self.follower.new_lines():
            parsed = self.parser.parse(line)
            if parsed is not None:
                self.rows.add(*parsed)
        if not len(self.rows):
            return []
        report = self._diagnose()
        fresh = [f for f in report.findings if (f.rule, f.step) not in self.reported]
        self.reported.update((f.rule, f.step) for f in fresh)
        return fresh

    def _diagnose(self) -> RunReport:
        try:
            run = canonicalize(self.rows.raw_run(str(self.path), self.format))
        except InputError:
            return RunReport(str(self.path), self.format, 0, [], [])
        if self.num_classes:
            run.meta["num_classes"] = self.num_classes
        return diagnose(run, self.ruleset)


def _line_length(path: Path) -> float:
    """Mean line length of the file's first 64 KiB, to find where the last window starts."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    return max(8.0, len(head) / max(1, head.count(b"\n")))


def follow(watcher: Watcher, interval: float, stop: Callable[[list[Finding]], bool],
           timeout: float | None = None) -> Iterator[list[Finding]]:
    """Poll every `interval` seconds; yield each batch of new findings; end when `stop` says so."""
    started = time.monotonic()
    while timeout is None or time.monotonic() - started < timeout:
        fresh = watcher.update()
        if fresh:
            yield fresh
            if stop(fresh):
                return
        time.sleep(interval)
