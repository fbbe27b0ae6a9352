"""The fast JSON Lines path answers exactly as the line-by-line reader would, or leaves the file to it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagnose.errors import InputError
from diagnose.ingest import jsonl
from diagnose.ingest.jsonl_fast import read_numbers

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

value = st.one_of(
    st.integers(-5, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.none(), st.booleans(),
    st.sampled_from(["2.5", "nan", "oops", " 3 "]), st.lists(st.floats(0, 1), min_size=1, max_size=2),
)
line = st.dictionaries(st.sampled_from(["step", "loss", "lr", "grad_norm", "note", "Step"]), value, max_size=5)
nested = st.fixed_dictionaries({"step": st.integers(0, 100)}, optional={"train": line, "loss": value})


def both_readers(path: Path):
    fast = read_numbers(path)
    try:
        careful = jsonl._read_line_by_line(path)
    except InputError as error:
        careful = error
    return fast, careful


def raw_runs_equal(fast, careful) -> None:
    assert not isinstance(careful, InputError), f"the careful reader refused what the fast path read: {careful}"
    columns, rows, notes = careful
    assert notes == [] and rows == fast[1]
    fast_steps, fast_signals, fast_rows = jsonl._signals(dict(fast[0]), fast[1], [])
    steps, signals, signal_rows = jsonl._signals(columns, rows, [])
    assert np.array_equal(fast_steps, steps)
    assert fast_signals.keys() == signals.keys()
    for key, series in signals.items():
        assert np.array_equal(fast_signals[key].index, series.index), key
        assert np.array_equal(fast_signals[key].to_numpy(), series.to_numpy(), equal_nan=True), key
        assert np.array_equal(fast_rows[key], signal_rows[key]), key


@SETTINGS
@given(lines=st.lists(line | nested, min_size=1, max_size=12), blank=st.booleans(), cut=st.booleans())
def test_fast_path_reads_exactly_what_the_line_by_line_reader_reads_or_declines(tmp_path_factory, lines, blank, cut):
    text = "\n".join(json.dumps(obj) for obj in lines) + "\n"
    if blank:
        text = text.replace("\n", "\n\n", 1)
    if cut:
        text = text[: -len(text) // 3]
    path = tmp_path_factory.mktemp("jsonl") / "run.jsonl"
    path.write_text(text)
    fast, careful = both_readers(path)
    if fast is not None:
        raw_runs_equal(fast, careful)


def test_plain_and_nested_logs_with_nan_tokens_take_the_fast_path(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text('{"step": 1, "train": {"loss": 2.0}, "lr": 0.1}\n'
                    '{"step": 2, "train": {"loss": NaN}, "lr": 0.1}\n'
                    '{"step": 3, "eval": {"loss": 1.5}}\n')
    fast, careful = both_readers(path)
    assert fast is not None and set(fast[0]) == {"step", "train/loss", "lr", "eval/loss"}
    raw_runs_equal(fast, careful)


@pytest.mark.parametrize("text", [
    '{"step": 1, "loss": "2.0"}\n',  # a number written as a string
    '{"step": 1, "lr": [0.001]}\n',  # DeepSpeed's one-element list
    '{"step": 1, "loss": 2.0}\n{"step": 2, "lo',  # a cut last line: the careful reader notes it
    '{"step": 1, "loss": 2.0}\n[1, 2]\n',  # a line that is not an object
])
def test_what_only_the_line_by_line_reader_reads_goes_to_it(tmp_path, text):
    path = tmp_path / "run.jsonl"
    path.write_text(text)
    assert read_numbers(path) is None
    assert jsonl.read(path)[0].signals
