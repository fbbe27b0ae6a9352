"""Delimited tables (CSV, TSV) with a header row: one column per signal, one row per step."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from diagnose.errors import InputError, one_line
from diagnose.ingest.base import RawRun
from diagnose.ingest.csv_fast import Columns, read_numeric
from diagnose.ingest.signals import canonical_name, is_step_name, pick_step_column
from diagnose.ingest.textio import first_line, last_line, read_head
from diagnose.run import Note

name = "csv"
DELIMITERS = (",", "\t", ";")


def sniff(path: Path, head: bytes) -> float:
    header = first_line(head)
    if header.lstrip().startswith(("{", "[")):
        return 0.0  # JSON, whose commas and quoted keys would pass for a header
    delimiter = guess_delimiter(header)
    if delimiter is None:
        return 0.0
    columns = header_columns(header, delimiter)
    known = sum(1 for c in columns if canonical_name(c) or is_step_name(c))
    if known == 0:
        return 0.0
    suffix_bonus = 0.3 if path.suffix.lower() in (".csv", ".tsv") or path.name.endswith(".csv.gz") else 0.0
    return min(1.0, 0.5 + 0.1 * known + suffix_bonus)


def header_columns(header: str, delimiter: str = ",") -> list[str]:
    """Column names of a header line: byte-order mark, spaces and quotes stripped."""
    return [c.strip().strip('"') for c in header.lstrip("\ufeff").split(delimiter)]


def guess_delimiter(header: str) -> str | None:
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else None


def read(path: Path) -> list[RawRun]:
    head = read_head(path)
    header = first_line(head)
    delimiter = guess_delimiter(header) or ","
    bad_rows: list[str] = []
    names = header_columns(header, delimiter)
    columns = wanted_columns(names)
    if not any(canonical_name(c) for c in columns):
        raise InputError(path, "no loss, gradient-norm or learning-rate column "
                               f"(columns: {', '.join(names[:8])})")
    numeric = read_numeric(path, delimiter, names, columns, head)
    if numeric is not None:
        steps, values = _steps_of(numeric, path)
    else:
        steps, values = _read_carefully(path, delimiter, columns, bad_rows)
    signals, rows = _to_signals(steps, values)
    return [RawRun(signals=signals, source=str(path), format=name, notes=_bad_row_notes(path, bad_rows),
                   row_steps=steps, rows=rows)]


def _read_carefully(path: Path, delimiter: str, columns: list[str], bad_rows: list[str]) -> tuple[np.ndarray, Columns]:
    """arrow's reader, which skips and reports malformed rows and reads text among numbers."""
    with _quiet_undecodable_rows():
        try:
            return _read_typed_columns(path, delimiter, bad_rows, columns)
        except (pa.ArrowInvalid, pa.ArrowKeyError):
            # Text in a numeric column, or a header arrow splits differently from us (odd
            # control characters): parse it all again, every column, letting arrow infer.
            bad_rows.clear()
            return _table_columns(_read_table(path, delimiter, bad_rows, []), path)


def wanted_columns(columns: list[str]) -> list[str]:
    """The step column and the columns that map to a signal; the rest is never parsed."""
    step = pick_step_column(columns)
    return [c for c in columns if c == step or canonical_name(c)]


def _read_typed_columns(path: Path, delimiter: str, bad_rows: list[str], columns: list[str]) -> tuple[np.ndarray, Columns]:
    """Parse the wanted columns as float64 (no type inference: it costs half the read) with
    arrow's multithreaded reader, then turn them into numpy one column at a time, dropping
    each arrow column once converted: while converting, the parsed table and the numpy
    columns made so far coexist (measured peak of a whole diagnosis: about 1.9x the float64
    signals, bench/memory_big.py). ArrowInvalid when a column holds text.

    Values stay float64: every detector computes in float64, so float32 storage would only
    add a float64 copy of each signal while diagnosing (measured: more peak memory, not less).
    """
    try:
        table = pacsv.read_csv(path, parse_options=_parse_options(delimiter, bad_rows),
                               convert_options=_convert_options(columns, typed=True),
                               read_options=pacsv.ReadOptions(block_size=1 << 22))
    except (pa.ArrowTypeError, UnicodeDecodeError, OSError) as exc:
        raise InputError(path, f"not a readable table ({one_line(exc)})") from None
    arrow_columns = {name: table.column(name) for name in table.column_names}
    del table
    return _steps_of({name: _float_values(arrow_columns.pop(name)) for name in list(arrow_columns)}, path)


def _steps_of(columns: Columns, path: Path) -> tuple[np.ndarray, Columns]:
    """Split off the step column (or take the epoch, or row order)."""
    step_col = pick_step_column(list(columns))
    rows = len(next(iter(columns.values()))[0]) if columns else 0
    if step_col is None:
        epoch = columns.get("epoch")
        steps = _epoch_steps(*epoch) if epoch is not None else None
        return (steps if steps is not None else np.arange(rows, dtype=np.int64)), columns
    values, present = columns.pop(step_col)
    if values.dtype.kind == "i":
        return values.astype(np.int64, copy=False), columns
    if present is not None and not present.all() or not np.isfinite(values).all():
        raise InputError(path, f"the step column {step_col!r} has empty or non-numeric cells")
    if not (np.abs(values) < 2.0**63).all():
        raise InputError(path, f"the step column {step_col!r} has steps beyond the int64 range")
    return values.astype(np.int64), columns


def _read_table(path: Path, delimiter: str, bad_rows: list[str], columns: list[str]) -> pa.Table:
    """The whole table with arrow's type inference: the slow path for columns holding text."""
    try:
        return pacsv.read_csv(path, parse_options=_parse_options(delimiter, bad_rows),
                              convert_options=_convert_options(columns, typed=False),
                              read_options=pacsv.ReadOptions(block_size=1 << 24))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowKeyError, UnicodeDecodeError, OSError) as exc:
        raise InputError(path, f"not a readable table ({one_line(exc)})") from None


class _quiet_undecodable_rows:
    """arrow fails to hand a malformed row that is not UTF-8 to our handler and reports it
    as an 'Exception ignored' traceback on stderr; the read then fails and says why. Keep
    stderr to that one line."""

    def __enter__(self) -> None:
        self.previous = sys.unraisablehook
        sys.unraisablehook = self._hook

    def _hook(self, unraisable) -> None:
        if not isinstance(unraisable.exc_value, UnicodeDecodeError):
            self.previous(unraisable)

    def __exit__(self, *exc) -> None:
        sys.unraisablehook = self.previous


def _parse_options(delimiter: str, bad_rows: list[str]) -> pacsv.ParseOptions:
    def skip(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row.text)
        return "skip"

    return pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=skip)


def _convert_options(columns: list[str], typed: bool) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True,
        include_columns=columns or None, include_missing_columns=False,
        column_types={c: pa.float64() for c in columns} if typed else None,
    )


def _bad_row_notes(path: Path, bad_rows: list[str]) -> list[Note]:
    if not bad_rows:
        return []
    notes = []
    last = last_line(path).strip()
    # Blocks are parsed in parallel: the last line's complaint need not come last.
    if any(row.strip() == last for row in bad_rows):
        notes.append(Note("truncated", f"the last line is incomplete ({last[:60]!r}): "
                          "read every complete row before it"))
        bad_rows = [row for row in bad_rows if row.strip() != last]
    if bad_rows:
        notes.append(Note("unparsed_lines", f"skipped {len(bad_rows)} malformed row(s), "
                          f"first: {bad_rows[0][:60]!r}"))
    return notes


def table_signals(table: pa.Table, path: Path) -> tuple[np.ndarray, dict[str, pd.Series], dict[str, np.ndarray]]:
    """Row steps, per-signal series and the rows of sparse signals of a whole arrow table."""
    steps, columns = _table_columns(table, path)
    signals, rows = _to_signals(steps, columns)
    return steps, signals, rows


def _table_columns(table: pa.Table, path: Path) -> tuple[np.ndarray, Columns]:
    columns = {str(c): _float_values(table.column(c)) for c in table.column_names}
    return _steps_of(columns, path)


def _to_signals(steps: np.ndarray, columns: Columns) -> tuple[dict[str, pd.Series], dict[str, np.ndarray]]:
    """Per-signal series: a null cell is 'not logged', a written nan stays NaN. Dense
    columns share one step index."""
    shared_index = pd.Index(steps, name="step", copy=False)  # steps is ours: no 80 MB copy
    signals, rows = {}, {}
    for column in [c for c in columns if canonical_name(c)]:
        values, present = columns.pop(column)
        if present is None:
            signals[column] = pd.Series(values, index=shared_index, name=column, copy=False)
        elif present.any():
            signals[column] = pd.Series(values[present], index=shared_index[present], name=column)
            rows[column] = np.flatnonzero(present)
    return signals, rows


def _epoch_steps(values: np.ndarray, present: np.ndarray | None) -> np.ndarray | None:
    """Keras' CSVLogger writes one row per epoch and no step: the epoch is the step."""
    if present is None and np.isfinite(values).all() and np.all(values == np.round(values)):
        return values.astype(np.int64)
    return None


def _float_values(array: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    """float64 values and a presence mask (None when every cell is present)."""
    if not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
            or pa.types.is_null(array.type)):
        return _parse_strings(array)  # text, timestamps, booleans: whatever arrow inferred
    present = None
    if array.null_count:
        present = ~np.asarray(pc.is_null(array).to_numpy(zero_copy_only=False))
    values = np.asarray(pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False))
    return values, present


def _parse_strings(array: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    """A column with some text in it: numbers stay numbers, other text counts as not logged."""
    text = pd.Series(array.to_pandas(), dtype="object")
    cells = text.astype(str).str.strip()  # booleans and timestamps too, which count as text
    blank = text.isna() | (cells == "")
    numbers = pd.to_numeric(cells.where(~blank), errors="coerce").to_numpy(dtype="float64")
    unparsed = ~blank.to_numpy() & np.isnan(numbers) & ~_nan_words(cells)
    present = ~(blank.to_numpy() | unparsed)
    return numbers, None if present.all() else present


def _nan_words(cells: pd.Series) -> np.ndarray:
    return cells.str.lower().isin(["nan", "-nan", "+nan"]).to_numpy()
