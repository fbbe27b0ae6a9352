"""Ingest: real logs other people's trainers wrote, and the messy cases real logs contain."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from diagnose.errors import InputError
from diagnose.ingest import find_runs, read_runs
from diagnose.ingest.signals import canonical_name

REAL = Path(__file__).parent / "data" / "real_logs"


def one_run(path: Path, **kwargs):
    runs = read_runs(path, **kwargs)
    assert len(runs) == 1
    return runs[0]


@pytest.mark.parametrize("raw, canonical", [
    ("loss", "loss"), ("train_loss", "loss"), ("train/loss", "loss"), ("Train/Loss", "loss"),
    ("train_loss_step", "loss"), ("grad_norm", "grad_norm"), ("gradient_norm", "grad_norm"),
    ("total_norm", "grad_norm"), ("lr", "lr"), ("learning_rate", "lr"), ("eval_loss", "val_loss"),
    ("val_loss", "val_loss"), ("grad_norm/layers.0.weight", "grad_norm/layers.0.weight"),
    ("loss_scale", "loss_scale"), ("accuracy", "accuracy"), ("val_acc", "val_accuracy"),
    ("tok/sec", None), ("eval_runtime", None),
])
def test_names_people_use_map_to_canonical_signals(raw, canonical):
    assert canonical_name(raw) == canonical


def test_keras_csvlogger_uses_the_epoch_as_step():
    run = one_run(REAL / "09_keras.csv")
    assert {"loss", "val_loss", "accuracy", "val_accuracy"} <= set(run.names)
    assert list(run.series("loss").index) == [0, 1, 2]
    assert run.series("loss").iloc[0] == pytest.approx(0.38600707054138184)


def test_keras_csv_with_cr_cr_lf_line_endings():
    run = one_run(REAL / "10_keras.csv")
    assert list(run.series("val_loss").index) == [0, 1]
    assert run.notes == []


def test_lightning_metrics_csv_keeps_sparse_columns_apart():
    run = one_run(REAL / "12_lightning" / "metrics.csv")
    loss, val = run.series("loss"), run.series("val_loss")
    assert run.meta["columns"]["train_loss_step"] == "loss"  # the per-step column, not _epoch
    assert len(loss) == 114 and len(val) == 20
    assert not loss.isna().any() and not val.isna().any()  # empty cells are absent, not NaN
    assert loss.index.is_monotonic_increasing and loss.index.is_unique


def test_folder_of_runs_finds_only_logs_it_can_read(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "metrics.csv").write_text("step,loss\n1,2.0\n2,1.5\n")
    (tmp_path / "b.jsonl").write_text('{"step": 1, "loss": 2.0}\n')
    (tmp_path / "notes.txt").write_text("nothing to see\n")
    (tmp_path / "manifest.json").write_text('{"runs": []}\n')
    assert find_runs(tmp_path) == [tmp_path / "a" / "metrics.csv", tmp_path / "b.jsonl"]


def test_nan_and_inf_strings_are_values_and_empty_cells_are_missing(tmp_path):
    log = tmp_path / "run.csv"
    log.write_text("step,loss,val_loss\n1,2.0,\n2,nan,1.0\n3,inf,\n4,-inf,\n5,NaN,\n")
    run = one_run(log)
    loss = run.series("loss").to_numpy()
    assert loss[0] == 2.0 and math.isnan(loss[1]) and loss[2] == math.inf and loss[3] == -math.inf
    assert list(run.series("val_loss").index) == [2]


def test_text_in_a_numeric_column_does_not_break_the_read(tmp_path):
    log = tmp_path / "run.csv"
    log.write_text("step,loss,lr\n1,2.0,0.1\n2,oops,0.1\n3,1.5,0.1\n")
    run = one_run(log)
    assert list(run.series("loss").index) == [1, 3]


def test_a_column_of_booleans_counts_as_text_not_a_crash(tmp_path):
    log = tmp_path / "run.csv"
    log.write_text("step,loss,lr\n1,2.0,\n2,1.5,True\n")  # arrow infers a boolean column
    run = one_run(log)
    assert list(run.series("loss").index) == [1, 2] and not run.has("lr")


@pytest.mark.parametrize("step, problem", [("inf", "empty or non-numeric"), ("1e30", "beyond the int64 range")])
def test_a_step_that_is_no_int64_is_a_clear_error_and_no_warning(tmp_path, step, problem):
    log = tmp_path / "run.csv"
    log.write_text(f"step,loss\n1,2.0\n{step},1.0\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's and pandas' cast warnings would reach the user's terminal
        with pytest.raises(InputError, match=problem):
            read_runs(log)


def test_resumed_run_keeps_the_latest_segment_across_signals(tmp_path):
    rows = [(s, 3.0 - 0.01 * s, 2.0 if s % 10 == 0 else None) for s in range(0, 60)]
    rows += [(s, 1.0, None) for s in range(40, 80)]  # restarted from a step-40 checkpoint
    log = tmp_path / "run.csv"
    log.write_text("step,loss,val_loss\n" + "".join(
        f"{s},{l},{'' if v is None else v}\n" for s, l, v in rows))
    run = one_run(log)
    loss = run.series("loss")
    assert list(loss.index) == list(range(80))
    assert (loss.loc[40:] == 1.0).all()  # the later segment wins
    assert list(run.series("val_loss").index) == [0, 10, 20, 30]  # stale 40, 50 dropped
    resumed = [n for n in run.notes if n.kind == "resumed"]
    assert len(resumed) == 1 and resumed[0].step == 40


def test_repeated_step_in_separate_jsonl_rows_is_not_a_resume(tmp_path):
    lines = [{"step": s, "loss": 1.0 / s} for s in range(1, 20)]
    lines.insert(10, {"step": 10, "eval_loss": 0.5})
    log = tmp_path / "run.jsonl"
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    run = one_run(log)
    assert run.notes == []
    assert list(run.series("val_loss").index) == [10] and len(run.series("loss")) == 19


def test_half_written_last_csv_line_is_a_truncation_note(tmp_path):
    log = tmp_path / "run.csv"
    log.write_text("step,loss,lr\n1,2.0,0.1\n2,1.9,0.1\n3,1.")
    run = one_run(log)
    assert list(run.series("loss").index) == [1, 2]
    assert [n.kind for n in run.notes] == ["truncated"]


def test_broken_last_jsonl_line_is_truncation_but_a_broken_middle_line_is_an_error(tmp_path):
    cut = tmp_path / "cut.jsonl"
    cut.write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.9}\n{"step": 3, "lo')
    run = one_run(cut)
    assert len(run.series("loss")) == 2 and run.notes[0].kind == "truncated"
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "lo\n{"step": 3, "loss": 1.8}\n')
    with pytest.raises(InputError, match=r"broken.jsonl.*line 2"):
        read_runs(broken)


def test_jsonl_nan_tokens_and_nested_keys(tmp_path):
    log = tmp_path / "run.jsonl"
    log.write_text('{"step": 1, "train": {"loss": 2.0}, "lr": 0.1}\n'
                   '{"step": 2, "train": {"loss": NaN}, "lr": 0.1}\n')
    run = one_run(log)
    assert math.isnan(run.series("loss").loc[2])


@pytest.mark.parametrize("content, problem", [
    (b"", "empty"),
    (b"\x00\x01\x02\xff\xfe" * 100, "binary"),
    (b"step,foo,bar\n1,2,3\n", "no loss"),
    (b"hello world\n", "not a log format"),
])
def test_bad_input_names_the_file_and_the_problem(tmp_path, content, problem):
    log = tmp_path / "bad.csv"
    log.write_bytes(content)
    with pytest.raises(InputError) as error:
        read_runs(log)
    assert "bad.csv" in str(error.value) and problem in str(error.value)


def test_forced_format_and_row_order_steps(tmp_path):
    log = tmp_path / "losses.txt"
    log.write_text("loss\n3.0\n2.0\n1.0\n")
    run = one_run(log, input_format="csv")
    assert list(run.series("loss").index) == [0, 1, 2]


def test_run_from_frame_normalises_names():
    from diagnose.run import Run

    frame = pd.DataFrame({"global_step": [10, 20, 30], "train/loss": [3.0, 2.0, np.nan],
                          "eval_loss": [np.nan, 2.5, np.nan]})
    run = Run.from_frame(frame)
    assert set(run.names) == {"loss", "val_loss"}
    assert list(run.series("val_loss").index) == [20]
    assert math.isnan(run.series("loss").loc[30])  # a dense column keeps its NaN


def test_huge_steps_stay_exact_and_huge_values_stay_finite(tmp_path):
    log = tmp_path / "run.csv"
    log.write_text("step,loss\n" + "".join(f"{100_000_001 + i},{1e300 if i == 3 else 1.5}\n" for i in range(6)))
    loss = one_run(log).series("loss")
    assert list(loss.index) == [100_000_001 + i for i in range(6)]
    assert loss.iloc[3] == 1e300  # float32 would have made it inf: a false NaN/Inf alarm
