"""Console and text training logs (nanoGPT, Megatron, DeepSpeed, fairseq, HF Trainer stdout...).

Streams the file line by line: memory grows with the metric rows, not with the chatter.
The line parsers live in textlog_dialects; this module runs them, keeps the rows, and
handles what a text log can do wrong (a half-written last line).
"""

from __future__ import annotations

import json
import re
from array import array
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from diagnose.errors import InputError
from diagnose.ingest.base import RawRun, point_series
from diagnose.ingest.textio import open_binary
from diagnose.ingest.textlog_dialects import DIALECTS, NUM, Context, Dialect, Row
from diagnose.run import Note

name = "textlog"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NUMBER = re.compile(NUM, re.IGNORECASE)
_METRIC_HINT = re.compile(r"\b(?:iter(?:ation)?|step|epoch|update|loss)\b|^[{|]", re.IGNORECASE)
_DELIMITERS = (",", "\t", ";")
_JSON_OPENING = re.compile(r'[\[{]\s*(?:["{\[]|$)')


class LineParser:
    """Runs the dialects over lines; the dialect that parsed the previous line goes first."""

    def __init__(self) -> None:
        self.ctx = Context()
        self._last: Dialect | None = None

    def parse(self, line: str) -> tuple[str, Row] | None:
        if self._last is not None and (row := self._last.parse(line, self.ctx)):
            return self._hit(self._last, row)
        for dialect in DIALECTS:
            if dialect is not self._last and (row := dialect.parse(line, self.ctx)):
                return self._hit(dialect, row)
        return None

    def _hit(self, dialect: Dialect, row: Row) -> tuple[str, Row]:
        # generic never goes first: a specific dialect must get its own lines
        self._last = dialect if dialect.name != "generic" else self._last
        self.ctx.last_step = row[0]
        return dialect.name, row


def clean(text: str) -> str:
    """One line as a terminal would show it: after the last carriage return, no colours."""
    text = text.rstrip("\r\n")
    if "\r" in text:
        text = text.rsplit("\r", 1)[-1]
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return text.strip()


# sniff ----------------------------------------------------------------------------------

def sniff(path: Path, head: bytes) -> float:
    """0.8-0.95 when several lines of the head parse, 0 for tables and JSON."""
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.split("\n")  # not splitlines: a carriage return does not end a line here
    if not text.endswith("\n"):
        lines = lines[:-1]  # the head may end inside a line
    if _looks_json(lines) or _looks_tabular(lines):
        return 0.0
    parser = LineParser()
    hits = Counter(hit[0] for line in lines if (hit := parser.parse(clean(line))))
    count = hits.most_common(1)[0][1] if hits else 0
    if count < 2:
        return 0.0
    return 0.5 if count == 2 else min(0.95, 0.8 + 0.01 * (count - 3))


def _looks_json(lines: list[str]) -> bool:
    """JSON Lines or a JSON document (trainer_state.json): theirs, not ours."""
    first = next((line.strip() for line in lines if line.strip()), "")
    if not first.startswith(("{", "[")):
        return False
    try:
        json.loads(first)
    except ValueError:
        return bool(_JSON_OPENING.match(first))  # a document spread over several lines
    return True


def _looks_tabular(lines: list[str]) -> bool:
    """A delimited header over a row of numbers (a CSV or TSV, whatever its suffix)."""
    rows = [line for line in lines if line.strip()][:2]
    if len(rows) < 2:
        return False
    delimiter = max(_DELIMITERS, key=rows[0].count)
    header, cells = rows[0].split(delimiter), rows[1].split(delimiter)
    if len(header) < 2 or len(header) != len(cells):
        return False
    return all(not cell.strip() or _NUMBER.fullmatch(cell.strip()) for cell in cells)


# read -----------------------------------------------------------------------------------

class _Table:
    """Rows in file order: the step of each, and per signal its rows and values."""

    def __init__(self) -> None:
        self.steps = array("q")
        self.columns: dict[str, tuple[array, array]] = {}
        self.dialects: Counter[str] = Counter()

    def add(self, dialect: str, row: Row) -> None:
        step, values = row
        if not -(1 << 62) < step < 1 << 62:
            return  # a garbled step number that no trainer reaches
        number = len(self.steps)
        self.steps.append(step)
        self.dialects[dialect] += 1
        for signal, value in values.items():
            column = self.columns.get(signal)
            if column is None:
                column = self.columns[signal] = (array("q"), array("d"))
            column[0].append(number)
            column[1].append(value)


def read(path: Path) -> list[RawRun]:
    table, parser, notes, unmatched, lines = _Table(), LineParser(), [], 0, 0
    previous: tuple[str, str] | None = None  # dialect and text of the latest row's line
    for text, terminated in _lines(path):
        lines += 1
        hit = parser.parse(text) if text else None
        if not terminated and not _complete(text, hit, previous):
            if hit or _METRIC_HINT.search(text):
                notes.append(Note("truncated", f"the last line is incomplete ({text[:60]!r}): "
                                  "read every complete line before it",
                                  table.steps[-1] if table.steps else None))
            break
        if hit is None:
            unmatched += int(bool(text))
            continue
        table.add(*hit)
        previous = (hit[0], text)
    if not table.steps:
        raise InputError(path, "no training metrics found in the text (no line matched a known "
                         "trainer's format or a `step ... loss ...` line)")
    meta = {"dialect": table.dialects.most_common(1)[0][0], "dialects": dict(table.dialects),
            "lines": lines, "unmatched_lines": unmatched}
    if parser.ctx.row_order_steps:
        meta["steps"] = "row order"  # the log printed no step: rows are numbered 1, 2, ...
    return [_raw_run(path, table, notes, meta)]


def _lines(path: Path) -> Iterator[tuple[str, bool]]:
    """Each line as clean text, and whether it ended with a newline."""
    with open_binary(path) as handle:
        first = True
        for raw in handle:
            if first:
                raw, first = raw.removeprefix(b"\xef\xbb\xbf"), False
            yield clean(raw.decode("utf-8", errors="replace")), raw.endswith(b"\n")


def _complete(text: str, hit: tuple[str, Row] | None, previous: tuple[str, str] | None) -> bool:
    """An unterminated last line counts only when it has the full shape of the line before:
    same dialect, same layout of numbers and at least its length (a cut number is shorter)."""
    if hit is None or previous is None or hit[0] != previous[0]:
        return False
    return _NUMBER.sub("#", text) == _NUMBER.sub("#", previous[1]) and len(text) >= len(previous[1])


def _raw_run(path: Path, table: _Table, notes: list[Note], meta: dict) -> RawRun:
    steps = np.frombuffer(table.steps, dtype=np.int64).copy()
    signals, rows = {}, {}
    for signal, (row_ids, values) in table.columns.items():
        row_ids = np.frombuffer(row_ids, dtype=np.int64).copy()
        signals[signal] = point_series(steps, row_ids, np.frombuffer(values, dtype=np.float64).copy(), signal)
        rows[signal] = row_ids
    return RawRun(signals=signals, source=str(path), format=name, notes=notes, meta=meta,
                  row_steps=steps, rows=rows)
