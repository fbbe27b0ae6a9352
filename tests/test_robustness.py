"""Hostile input: arbitrary bytes and floats never crash a reader or a detector, and a NaN
is never dropped or averaged away."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagnose.api import diagnose_run
from diagnose.errors import InputError
from diagnose.ingest import read_runs
from diagnose.rules import load_rules

RULES = load_rules()
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

any_float = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 5e-324, 1e308, -1e308, math.nan, math.inf, -math.inf])
step = st.integers(min_value=-10, max_value=400)


def _diagnose_file(path):
    try:
        return diagnose_run(path, rules=RULES)
    except InputError as error:
        assert str(path.name) in str(error)
        return None


@SETTINGS
@given(content=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".jsonl", ".log", ".json", ".txt"]))
def test_arbitrary_bytes_give_a_report_or_an_input_error(tmp_path_factory, content, suffix):
    path = tmp_path_factory.mktemp("fuzz") / f"run{suffix}"
    path.write_bytes(content)
    _diagnose_file(path)
    assert path.read_bytes() == content


@SETTINGS
@given(lines=st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=40), max_size=30),
       header=st.sampled_from(["step,loss,grad_norm", "\ufeffstep,loss", "loss", "step\tloss\tlr", ""]),
       newline=st.sampled_from(["\n", "\r\n"]))
def test_text_tables_with_junk_rows_never_crash(tmp_path_factory, lines, header, newline):
    path = tmp_path_factory.mktemp("fuzz") / "run.csv"
    path.write_text(newline.join([header, *lines]), encoding="utf-8")
    _diagnose_file(path)


@SETTINGS
@given(rows=st.lists(st.tuples(step, any_float, any_float), min_size=1, max_size=300))
def test_any_floats_and_steps_are_diagnosed_and_nan_is_reported_at_its_step(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("fuzz") / "run.csv"
    path.write_text("step,loss,grad_norm\n" + "".join(f"{s},{l!r},{g!r}\n" for s, l, g in rows))
    report = diagnose_run(path, rules=RULES)
    (run,) = read_runs(path)
    kept = run.series("loss")
    bad = kept[~np.isfinite(kept.to_numpy())]
    non_finite = [f for f in report.runs[0].findings if f.symptom == "non_finite"]
    if len(bad):
        assert non_finite, "a NaN/Inf in the loss must be reported"
        assert min(f.step for f in non_finite) <= int(bad.index[0])
    grad = run.series("grad_norm")
    if not len(bad) and np.isfinite(grad.to_numpy()).all():
        assert not non_finite


@SETTINGS
@given(values=st.lists(any_float, min_size=0, max_size=200))
def test_jsonl_with_any_values_and_a_cut_last_line(tmp_path_factory, values):
    import json

    lines = [json.dumps({"step": i, "loss": v}) for i, v in enumerate(values)]
    path = tmp_path_factory.mktemp("fuzz") / "run.jsonl"
    path.write_text("\n".join(lines) + ('\n{"step": 99999, "lo' if values else ""))
    report = _diagnose_file(path)
    if values:
        assert report is not None
        assert "truncated" in {f.symptom for f in report.runs[0].findings}


FUZZ_FINDS = {  # inputs bench/fuzz.py once crashed on, kept so they stay fixed
    "ctrl_header.csv": b"epoch,loss,val_loss\x1d\r\n0,1.7,1.9\r\n1,1.6,1.8\r\n",
    "inf_step.json": b'{"global_step": 3, "log_history": [{"loss": 2.0, "step": 1e400}, {"loss": 1.0, "step": 2}]}',
    "huge_step.log": b"iter 1: loss 2.0, time 1ms\niter 2: loss 1.9, time 1ms\niter 99999999999999999999999: loss 1.8, time 1ms\n",
    "latin1.jsonl": b'{"step": 1, "loss": 2.0}\n{"step": 2, "loss": \xb6}\n{"step": 3, "loss": 1.0}\n',
    "text_in_column.csv": b"step,loss,grad_norm\n1,2.0,1.0\n2,1.9,1\x00.0\n3,1.8,oops\n",
    "grad_only.csv": b"step,grad_norm\n" + b"".join(b"%d,%f\n" % (i, 1.0 + (i > 150) * 1e4) for i in range(300)),
}


def test_inputs_the_fuzzer_once_crashed_on(tmp_path):
    for name, content in FUZZ_FINDS.items():
        path = tmp_path / name
        path.write_bytes(content)
        _diagnose_file(path)
