"""The fast CSV path answers exactly as the careful reader would, or leaves the file to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagnose.errors import InputError
from diagnose.ingest import csv
from diagnose.ingest.csv_fast import read_numeric
from diagnose.ingest.textio import first_line, read_head

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

cell = st.sampled_from(["1", "-2", "0.5", "1e-3", "3.0", "", "nan", "NaN", "-nan", "inf", "-inf",
                        "oops", " 2", '"4"', "1e400", "0x10", "True", "0,5", '"1,5"', "\ufeff1"]) | st.integers(-5, 500).map(str)


def both_readers(path: Path):
    """The fast path's columns (None if it declined) and the careful reader's, with its notes."""
    head = read_head(path)
    delimiter = csv.guess_delimiter(first_line(head)) or ","
    names = csv.header_columns(first_line(head), delimiter)
    wanted = csv.wanted_columns(names)
    fast = read_numeric(path, delimiter, names, wanted, head)
    bad_rows: list[str] = []
    try:
        careful = csv._read_carefully(path, delimiter, wanted, bad_rows)
    except InputError as error:  # the careful reader's verdict on a broken file
        careful = error
    return fast, careful, bad_rows


def assert_same(fast, careful, bad_rows, path: Path) -> None:
    assert not bad_rows, "the fast path read a file with malformed rows"
    try:
        steps, columns = csv._steps_of(fast, path)
    except InputError as error:  # e.g. an empty step cell: the careful reader must say the same
        assert isinstance(careful, InputError) and str(careful) == str(error)
        return
    assert not isinstance(careful, Exception), f"the careful reader refused what the fast path read: {careful}"
    careful_steps, careful_columns = careful
    assert np.array_equal(steps, careful_steps)
    assert columns.keys() == careful_columns.keys()
    for name, (values, present) in columns.items():
        other_values, other_present = careful_columns[name]
        assert (present is None) == (other_present is None), name
        if present is not None:
            assert np.array_equal(present, other_present), name
            values, other_values = values[present], other_values[other_present]
        assert np.array_equal(values, other_values, equal_nan=True), name


@SETTINGS
@given(rows=st.lists(st.lists(cell, min_size=2, max_size=4), max_size=12),
       trailing_newline=st.booleans(), blank_line=st.booleans(),
       delimiter=st.sampled_from([",", "\t", ";"]), newline=st.sampled_from(["\n", "\r\n"]))
def test_fast_path_reads_exactly_what_the_careful_reader_reads_or_declines(tmp_path_factory, rows, trailing_newline,
                                                                           blank_line, delimiter, newline):
    lines = [delimiter.join(["step", "loss", "lr"])] + [delimiter.join(row) for row in rows]
    if blank_line and rows:
        lines.insert(2, "")
    path = tmp_path_factory.mktemp("fast") / "run.csv"
    path.write_bytes((newline.join(lines) + (newline if trailing_newline else "")).encode())
    fast, careful, bad_rows = both_readers(path)
    if fast is not None:
        assert_same(fast, careful, bad_rows, path)


def test_dense_and_sparse_logs_take_the_fast_path(tmp_path):
    dense = tmp_path / "dense.csv"
    dense.write_text("step,loss,lr\n1,2.0,0.1\n2,nan,0.1\n3,inf,0.1\n")
    sparse = tmp_path / "sparse.csv"
    sparse.write_text("step,loss,val_loss\n1,2.0,\n2,1.9,1.5\n3,1.8,\n")
    for path in (dense, sparse):
        fast, careful, bad_rows = both_readers(path)
        assert fast is not None
        assert_same(fast, careful, bad_rows, path)


def test_a_first_line_with_an_extra_empty_field_goes_to_the_careful_reader(tmp_path):
    path = tmp_path / "run.csv"  # pandas forgives this on the first data line only
    path.write_text("step,loss,lr\n1,2.0,0.1,\n2,1.9,0.1\n")
    fast, _, bad_rows = both_readers(path)
    assert fast is None and bad_rows == ["1,2.0,0.1,"]


def test_a_table_of_mostly_unused_columns_is_left_to_the_reader_that_skips_them(tmp_path):
    path = tmp_path / "run.csv"
    path.write_text("step,loss,a,b,c,d\n1,2.0,1,1,1,1\n2,1.9,1,1,1,1\n")
    assert both_readers(path)[0] is None
    path.write_text("step,loss,a,b\n1,2.0,1,1\n2,1.9,1,1\n")
    assert both_readers(path)[0] is not None


def big_log(path: Path, rows: int = 230_000, damage: dict[int, str] | None = None) -> Path:
    """A log over pandas' 5 MB threshold for parallel reading, with some lines replaced."""
    lines = [f"{step},{2.0 / (1 + step / 1000):.6f},{0.5 + (step % 7) / 10:.4f},0.0003" for step in range(rows)]
    for index, line in (damage or {}).items():
        lines[index] = line
    path.write_text("step,loss,grad_norm,lr\n" + "\n".join(lines) + "\n")
    assert path.stat().st_size > 6_000_000
    return path


def test_a_large_clean_log_is_read_in_parallel_and_exactly(tmp_path):
    path = big_log(tmp_path / "run.csv", damage={150_000: "150000,nan,nan,0.0003"})
    fast, careful, bad_rows = both_readers(path)
    assert fast is not None and fast["step"][0].dtype == np.int64
    assert_same(fast, careful, bad_rows, path)


def test_a_large_dense_log_with_empty_cells_late_is_read_as_a_sparse_one(tmp_path):
    path = big_log(tmp_path / "run.csv", damage={200_000: "200000,,0.6,0.0003"})
    fast, careful, bad_rows = both_readers(path)
    assert fast is not None and fast["loss"][1] is not None and not fast["loss"][1][200_000]
    assert_same(fast, careful, bad_rows, path)


@pytest.mark.parametrize("line", [
    "100000,0.5",  # short: pandas would fill NaN
    "100000,0.5,0.6,0.0003,7",  # long, deep inside a parallel chunk
    '100000,"0.5,0.6",0.0003',  # a quoted delimiter
    "100000,,0.6,0.0003",  # an empty cell in a file with written nans
    "# a comment",
])
def test_a_large_log_with_one_bad_line_goes_to_the_careful_reader(tmp_path, line):
    path = big_log(tmp_path / "run.csv", damage={100_000: line, 150_000: "150000,nan,nan,0.0003"})
    fast, _, _ = both_readers(path)
    assert fast is None


def test_a_large_log_cut_mid_line_goes_to_the_careful_reader_and_says_so(tmp_path):
    path = big_log(tmp_path / "run.csv")
    path.write_bytes(path.read_bytes() + b"230000,0.0")
    fast, _, _ = both_readers(path)
    assert fast is None
    (run,) = csv.read(path)
    assert [note.kind for note in run.notes] == ["truncated"]
