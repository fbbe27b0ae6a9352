"""The fast path for well-formed numeric tables: pandas' C parser, numbers straight from text.

pandas splits a large file across threads; on a 10-million-row log on two cores it parses
about twice as fast as arrow's reader (bench/speed_csv.py). It answers only when its answer
is exactly the careful reader's (csv.py): every column is numeric; every line holds the
header's number of fields (pandas rejects longer lines except on the first data line, which
is checked here, and fills shorter ones with NaN, so after a NaN the delimiters are counted);
and either no cell is empty, so a NaN is a written nan, or no cell says nan, so a NaN is an
empty cell, which means "not logged". Anything else (text in any column, comments, ragged
lines, quoted delimiters, empty cells and written nans in one file, repeated column names, a
compressed file) gives None, and the careful reader takes the file.
"""

from __future__ import annotations

import io
import mmap
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from diagnose.ingest.signals import pick_step_column

#: The spellings of NaN the careful reader accepts as a written value.
NAN_WORDS = ["nan", "NaN", "NAN", "-nan", "+nan", "-NaN", "+NaN"]
_COUNT_CHUNK = 1 << 24

Columns = dict[str, tuple[np.ndarray, np.ndarray | None]]  # name -> values, presence (None: all)


@dataclass(frozen=True)
class _Dialect:
    nan_is_empty: bool  # empty cells mean "not logged" and no cell says nan (else: no empty cell)
    int_steps: bool  # the step column holds integers: parsed as int64, no float copy to convert


# In the order they are tried on the head of a file: dense logs are the common large ones.
_DIALECTS = [_Dialect(nan_is_empty, int_steps) for nan_is_empty in (False, True) for int_steps in (True, False)]


def read_numeric(path: Path, delimiter: str, names: list[str], wanted: list[str], head: bytes) -> Columns | None:
    """The wanted columns (float64, the step column int64) with presence masks, or None if
    this file needs the careful reader. `head` is the file's first bytes, as read_head gives."""
    if not _worth_trying(path, delimiter, names, wanted, head):
        return None
    step = pick_step_column(wanted)
    step_position = names.index(step) if step else None
    whole_file_in_head = len(head) >= path.stat().st_size
    # The dialect is chosen on the head; the whole file must then read in it, or go the careful way.
    sample = path if whole_file_in_head else io.BytesIO(head[: head.rfind(b"\n") + 1])
    frame, dialect = _first_dialect_that_reads(sample, delimiter, len(names), step_position)
    if frame is not None and not whole_file_in_head:
        frame, dialect = _whole_file(path, delimiter, len(names), step_position, dialect)
    if frame is None or frame.empty:
        return None
    if _holds_nan(frame) and not _every_line_has(path, delimiter, len(frame) + 1, len(names)):
        return None
    return {name: _with_presence(frame.iloc[:, position].to_numpy(), dialect.nan_is_empty)
            for position, name in enumerate(names) if name in wanted}


def _worth_trying(path: Path, delimiter: str, names: list[str], wanted: list[str], head: bytes) -> bool:
    return (path.suffix.lower() != ".gz"
            and 2 <= len(names) == len(set(names))
            # Every column is parsed (pandas reads in parallel only without `usecols`): a table
            # of mostly unused columns is left to the careful reader, which parses only the wanted.
            and len(names) <= 2 * len(wanted)
            and not _has_boolean_words(head)
            and _first_data_line_fits(head, delimiter, len(names)))


def _first_dialect_that_reads(source: Path | io.BytesIO, delimiter: str, fields: int,
                              step_position: int | None) -> tuple[pd.DataFrame | None, _Dialect]:
    for dialect in _DIALECTS:
        frame = _parse(source, delimiter, fields, step_position, dialect)
        if frame is not None:
            break
    return frame, dialect


def _whole_file(path: Path, delimiter: str, fields: int, step_position: int | None,
                dialect: _Dialect) -> tuple[pd.DataFrame | None, _Dialect]:
    """The file in the dialect of its head; a dense head may be followed by empty cells (a
    signal no longer logged after a resume), so that gets one more try as a sparse table."""
    frame = _parse(path, delimiter, fields, step_position, dialect)
    if frame is None and not dialect.nan_is_empty:
        dialect = _Dialect(nan_is_empty=True, int_steps=dialect.int_steps)
        frame = _parse(path, delimiter, fields, step_position, dialect)
    return frame, dialect


def _parse(source: Path | io.BytesIO, delimiter: str, fields: int, step_position: int | None,
           dialect: _Dialect) -> pd.DataFrame | None:
    """Every column as a number; None when a cell is neither a number nor a NaN the dialect
    allows, or a line holds more fields than the header."""
    dtype = dict.fromkeys(range(fields), "float64")
    if step_position is not None and dialect.int_steps:
        dtype[step_position] = "int64"
    if isinstance(source, io.BytesIO):
        source.seek(0)
    try:
        with warnings.catch_warnings():
            # A first row longer than the header is only a warning to pandas.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # An inf or a 1e30 asked to be an int64 step warns before pandas refuses it.
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = pd.read_csv(source, sep=delimiter, dtype=dtype, engine="c", keep_default_na=False,
                                na_values=[""] if dialect.nan_is_empty else NAN_WORDS, index_col=False,
                                on_bad_lines="error", encoding="utf-8")
    except (ValueError, UnicodeDecodeError, OverflowError, pd.errors.ParserError, pd.errors.ParserWarning):
        return None
    # Every column in the asked type, or this pandas read the options otherwise: decline.
    typed = frame.shape[1] == fields and all(str(kind) == dtype[k] for k, kind in enumerate(frame.dtypes))
    return frame if typed else None


def _first_data_line_fits(head: bytes, delimiter: str, fields: int) -> bool:
    """pandas forgives extra empty fields on the first data line (its trailing-delimiter rule)
    and rejects longer lines elsewhere: that one line is counted here."""
    lines = head.split(b"\n")
    complete = [line.rstrip(b"\r") for line in lines[1:-1]]
    first = next((line for line in complete if line.strip()), None)
    return first is not None and first.count(delimiter.encode()) == fields - 1


def _has_boolean_words(head: bytes) -> bool:
    """pandas reads a column of only True/False as 1.0/0.0 whatever dtype it is asked for;
    the careful reader counts such cells as text. Seen in the head, the file goes the careful
    way (a column empty all through the head and boolean after it is the one case missed)."""
    body = head[head.find(b"\n") + 1:].lower()
    return b"true" in body or b"false" in body


def _with_presence(values: np.ndarray, nan_is_empty: bool) -> tuple[np.ndarray, np.ndarray | None]:
    if not nan_is_empty or values.dtype.kind != "f":
        return values, None
    missing = np.isnan(values)
    return values, (~missing if missing.any() else None)


def _holds_nan(frame: pd.DataFrame) -> bool:
    """pandas fills the missing fields of a short line with NaN, so without a NaN (a sum is
    NaN when a value is, or when +Inf meets -Inf) no line was short."""
    with np.errstate(over="ignore", invalid="ignore"):
        return any(np.isnan(np.sum(frame.iloc[:, k].to_numpy())) for k in range(frame.shape[1])
                   if frame.dtypes.iloc[k].kind == "f")


def _every_line_has(path: Path, delimiter: str, lines: int, fields: int) -> bool:
    """The file holds exactly (fields - 1) delimiters per line pandas counted: as pandas let
    no longer line through, no line was short and none hid a delimiter in quotes. Blank lines
    hold none and pandas skips them."""
    with open(path, "rb") as handle:
        if handle.seek(0, 2) == 0:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            text = np.frombuffer(mapped, dtype=np.uint8)
            code = ord(delimiter)
            found = sum(int(np.count_nonzero(text[start:start + _COUNT_CHUNK] == code))
                        for start in range(0, len(text), _COUNT_CHUNK))
            del text  # the view must go before the map closes
    return found == lines * (fields - 1)
