"""Delimited tables (CSV, TSV) with a header row: one column per signal, one row per step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from diagnose.errors import InputError
from diagnose.ingest.base import RawRun
from diagnose.ingest.signals import canonical_name, is_step_name, pick_step_column
from diagnose.ingest.textio import first_line, last_line, read_head
from diagnose.run import Note

name = "csv"
DELIMITERS = (",", "\t", ";")


def sniff(path: Path, head: bytes) -> float:
    header = first_line(head)
    delimiter = guess_delimiter(header)
    if delimiter is None:
        return 0.0
    columns = [c.strip().strip('"') for c in header.split(delimiter)]
    known = sum(1 for c in columns if canonical_name(c) or is_step_name(c))
    if known == 0:
        return 0.0
    suffix_bonus = 0.3 if path.suffix.lower() in (".csv", ".tsv") or path.name.endswith(".csv.gz") else 0.0
    return min(1.0, 0.5 + 0.1 * known + suffix_bonus)


def guess_delimiter(header: str) -> str | None:
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else None


def read(path: Path) -> list[RawRun]:
    header = first_line(read_head(path))
    delimiter = guess_delimiter(header) or ","
    bad_rows: list[str] = []
    columns = [c.strip().strip('"') for c in header.lstrip("\ufeff").split(delimiter)]
    table = _read_table(path, delimiter, bad_rows, wanted_columns(columns))
    notes = _bad_row_notes(path, bad_rows)
    steps, signals, rows = table_signals(table, path)
    return [RawRun(signals=signals, source=str(path), format=name, notes=notes,
                   row_steps=steps, rows=rows)]


def wanted_columns(columns: list[str]) -> list[str]:
    """The step column and the columns that map to a signal; the rest is never parsed."""
    step = pick_step_column(columns)
    return [c for c in columns if c == step or canonical_name(c)]


def _read_table(path: Path, delimiter: str, bad_rows: list[str], columns: list[str]) -> pa.Table:
    """Parse as float64 first (type inference costs half the read); on text in a column,
    parse again letting arrow infer, and sort the text out per column."""
    try:
        return _arrow_read(path, delimiter, bad_rows, columns, typed=True)
    except pa.ArrowInvalid:
        bad_rows.clear()
    try:
        return _arrow_read(path, delimiter, bad_rows, columns, typed=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, OSError) as exc:
        raise InputError(path, f"not a readable table ({_first_line_of(exc)})") from None


def _arrow_read(path: Path, delimiter: str, bad_rows: list[str], columns: list[str],
                typed: bool) -> pa.Table:
    def skip(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row.text)
        return "skip"

    return pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=skip),
        convert_options=pacsv.ConvertOptions(
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True,
            include_columns=columns or None, include_missing_columns=False,
            column_types={c: pa.float64() for c in columns} if typed else None,
        ),
        read_options=pacsv.ReadOptions(block_size=1 << 24),
    )


def _first_line_of(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__


def _bad_row_notes(path: Path, bad_rows: list[str]) -> list[Note]:
    if not bad_rows:
        return []
    notes = []
    if bad_rows[-1].strip() == last_line(path).strip():
        notes.append(Note("truncated", f"the last line is incomplete ({bad_rows[-1][:60]!r}): "
                          "read every complete row before it"))
        bad_rows = bad_rows[:-1]
    if bad_rows:
        notes.append(Note("unparsed_lines", f"skipped {len(bad_rows)} malformed row(s), "
                          f"first: {bad_rows[0][:60]!r}"))
    return notes


def table_signals(table: pa.Table, path: Path) -> tuple[np.ndarray, dict[str, pd.Series], dict[str, np.ndarray]]:
    """Row steps, per-signal series and the rows of sparse signals.

    A null cell is 'not logged'; a written nan stays NaN."""
    columns = [str(c) for c in table.column_names]
    step_col = pick_step_column(columns)
    steps = _steps(table, step_col, path)
    wanted = [c for c in columns if c != step_col and canonical_name(c)]
    arrays = {c: table.column(c) for c in wanted}
    del table  # let each column's memory go as soon as it is converted
    shared_index = pd.Index(steps, name="step")
    signals, rows = {}, {}
    for column in wanted:
        array = arrays.pop(column)
        values, present = _float_values(array)
        if present is None:
            signals[column] = pd.Series(values, index=shared_index, name=column, copy=False)
        elif present.any():
            signals[column] = pd.Series(values[present], index=shared_index[present], name=column)
            rows[column] = np.flatnonzero(present)
    return steps, signals, rows


def _steps(table: pa.Table, step_col: str | None, path: Path) -> np.ndarray:
    if step_col is None:
        return _epoch_steps(table) if "epoch" in table.column_names else np.arange(table.num_rows, dtype=np.int64)
    values, present = _float_values(table.column(step_col))
    if present is not None and not present.all() or not np.isfinite(values).all():
        raise InputError(path, f"the step column {step_col!r} has empty or non-numeric cells")
    return values.astype(np.int64)


def _epoch_steps(table: pa.Table) -> np.ndarray:
    """Keras' CSVLogger writes one row per epoch and no step: the epoch is the step."""
    values, present = _float_values(table.column("epoch"))
    if present is None and np.isfinite(values).all() and np.all(values == np.round(values)):
        return values.astype(np.int64)
    return np.arange(table.num_rows, dtype=np.int64)


def _float_values(array: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    """float64 values and a presence mask (None when every cell is present)."""
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return _parse_strings(array)
    if not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
            or pa.types.is_null(array.type)):
        array = pc.cast(array, pa.float64(), safe=False)
    present = None
    if array.null_count:
        present = ~np.asarray(pc.is_null(array).to_numpy(zero_copy_only=False))
    values = np.asarray(pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False))
    return values, present


def _parse_strings(array: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    """A column with some text in it: numbers stay numbers, other text counts as not logged."""
    text = pd.Series(array.to_pandas(), dtype="object")
    blank = text.isna() | (text.astype(str).str.strip() == "")
    numbers = pd.to_numeric(text.where(~blank).str.strip(), errors="coerce").to_numpy(dtype="float64")
    unparsed = ~blank.to_numpy() & np.isnan(numbers) & ~_nan_words(text)
    present = ~(blank.to_numpy() | unparsed)
    return numbers, None if present.all() else present


def _nan_words(text: pd.Series) -> np.ndarray:
    return text.astype(str).str.strip().str.lower().isin(["nan", "-nan", "+nan"]).to_numpy()
