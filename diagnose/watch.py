"""Follow a log that is still being written and report each new finding once.

Only the bytes appended since the last poll are read and parsed (complete lines only), and
each update diagnoses a bounded window of the latest points, so the cost per update does not
grow with the length of the log. CSV, JSON Lines and text logs are followed line by line;
a TensorBoard folder record by record, each event file from where the last poll stopped.
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
from diagnose.ingest.csv import guess_delimiter, header_columns
from diagnose.ingest.detect import detect_reader
from diagnose.ingest.numbers import as_float
from diagnose.ingest.signals import canonical_name, pick_step_column
from diagnose.ingest.tensorboard import (
    FILE_MARK,
    event_parser,
    records_of,
    scalars_of,
    signal_tags,
)
from diagnose.ingest.textlog import LineParser, clean
from diagnose.report.model import Finding, RunReport
from diagnose.rules import RuleSet

Row = tuple[int, dict[str, float]]  # (step, signal values) of one logged row


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

    def raw_run(self, source: str, fmt: str, row_steps: bool = True) -> RawRun:
        order = np.arange(self.count - len(self), self.count) % self.size
        steps = self.steps[order]
        signals, rows = {}, {}
        for column, (values, present) in self.columns.items():
            kept = present[order]
            signals[column] = pd.Series(values[order][kept], index=pd.Index(steps[kept], name="step"))
            rows[column] = np.flatnonzero(kept)
        if not row_steps:
            return RawRun(signals=signals, source=source, format=fmt)
        return RawRun(signals=signals, source=source, format=fmt, row_steps=steps, rows=rows)


class _CsvRows:
    def __init__(self) -> None:
        self.header: list[str] | None = None
        self.delimiter = ","
        self.rows = 0

    def parse(self, line: str) -> Row | None:
        if self.header is None:
            self.delimiter = guess_delimiter(line) or ","
            self.header = header_columns(line, self.delimiter)
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

    def parse(self, line: str) -> Row | None:
        try:
            record = json.loads(line)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        self.step_col = self.step_col or pick_step_column(list(record))
        self.rows += 1
        return _record(record, self.step_col, self.rows - 1)


class _TextRows:
    """Console logs: the same dialects as the batch reader, one line at a time."""

    def __init__(self) -> None:
        self.parser = LineParser()

    def parse(self, line: str) -> Row | None:
        hit = self.parser.parse(clean(line))
        return hit[1] if hit else None


LINE_PARSERS = {"csv": _CsvRows, "jsonl": _JsonRows, "textlog": _TextRows}


def _record(record: dict, step_col: str | None, row: int) -> Row | None:
    """(step, signal values) of one row; the row number is the step when there is no column."""
    values = {}
    for key, cell in record.items():
        if key != step_col and canonical_name(key) and (value := as_float(cell)) is not None:
            values[key] = value
    try:
        step = int(float(record[step_col])) if step_col else row
    except (KeyError, TypeError, ValueError):
        return None
    return step, values


class LineSource:
    """New rows of a growing line-based log: CSV, JSON Lines or a console log."""

    def __init__(self, path: Path, fmt: str, window: int) -> None:
        self.path = path
        self.follower = LineFollower(path)
        self.parser = LINE_PARSERS[fmt]()
        self._start_near_end(window)

    def _start_near_end(self, window: int) -> None:
        """A log already millions of lines long: read its header, then only the last window."""
        if not self.path.exists():
            return
        if isinstance(self.parser, _CsvRows):
            with open(self.path, "rb") as handle:
                header = handle.readline().decode("utf-8", errors="replace")
            if header.endswith("\n"):
                self.parser.parse(header.rstrip("\r\n"))
                self.follower.offset = len(header.encode("utf-8", errors="replace"))
        self.follower.start_near_end(int(window * _line_length(self.path) * 1.5))

    def new_rows(self) -> list[Row]:
        return [row for line in self.follower.new_lines() if (row := self.parser.parse(line)) is not None]


class EventSource:
    """New scalar rows of a growing TensorBoard folder (or one event file): each file is read
    from the end of its last complete record; a record still being written waits a poll."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offsets: dict[Path, int] = {}
        self.is_signal = signal_tags()

    def new_rows(self) -> list[Row]:
        parse = event_parser(self.path)
        rows = []
        for file in self._files():
            records = records_of(file, self.offsets.get(file, 0))
            for record in records:
                step, found = scalars_of(parse(record), self.is_signal)
                if found:
                    rows.append((step, found))
            self.offsets[file] = records.end
        return rows

    def _files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if FILE_MARK in p.name)
        return [self.path] if self.path.exists() else []


def watched_format(path: Path) -> str:
    """tensorboard, csv, jsonl or textlog: by the path, else by what is already written."""
    if path.is_dir() or FILE_MARK in path.name:
        return "tensorboard"
    by_suffix = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}
    if path.suffix.lower() in by_suffix:
        return by_suffix[path.suffix.lower()]
    if not path.exists() or path.stat().st_size == 0:
        return "textlog"
    name = detect_reader(path).name
    if name not in LINE_PARSERS:
        raise InputError(path, f"watch follows CSV, JSON Lines, text logs and TensorBoard folders, not {name}")
    return name


@dataclass
class Watcher:
    """Incremental diagnosis of one growing log."""

    path: Path
    ruleset: RuleSet
    window: int = 100_000
    num_classes: int | None = None
    reported: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.format = watched_format(self.path)
        if self.format == "tensorboard":
            self.source: LineSource | EventSource = EventSource(self.path)
        else:
            self.source = LineSource(self.path, self.format, self.window)
        self.rows = RowWindow(self.window)

    def update(self) -> list[Finding]:
        """Read what was appended, re-diagnose the window, return the findings not seen before."""
        for row in self.source.new_rows():
            self.rows.add(*row)
        if not len(self.rows):
            return []
        report = self._diagnose()
        fresh = [f for f in report.findings if (f.rule, f.step) not in self.reported]
        self.reported.update((f.rule, f.step) for f in fresh)
        return fresh

    def _diagnose(self) -> RunReport:
        # TensorBoard tags are logged independently: a step seen again is not a resume.
        raw = self.rows.raw_run(str(self.path), self.format, row_steps=self.format != "tensorboard")
        try:
            run = canonicalize(raw)
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
