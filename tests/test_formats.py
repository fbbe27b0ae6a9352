"""Format readers on files written by the real libraries, and autodetection across formats."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import pytest

from diagnose.ingest import find_runs, read_runs
from diagnose.ingest.detect import detect_reader

REAL = Path(__file__).parent / "data" / "real_logs"


def write_tensorboard(folder: Path, steps: int = 200, nan_at: int | None = None) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(folder))
    for step in range(steps):
        loss = float("nan") if step == nan_at else 2.0 / (step + 1)
        writer.add_scalar("Loss/train", loss, step)
        writer.add_scalar("grad_norm", 1.0 + step % 3, step)
        if step % 20 == 0:
            writer.add_scalar("Loss/val", 1.5, step)
    writer.add_scalar("lr-Adam", 1e-3, 0)  # a tag logged late at an old step is not a resume
    writer.close()
    return folder


def test_tensorboard_folder_written_by_torch_summarywriter(tmp_path):
    (run,) = read_runs(write_tensorboard(tmp_path / "tb", nan_at=150))
    assert run.format == "tensorboard" and run.notes == []
    loss = run.series("loss")
    assert len(loss) == 200 and loss.iloc[0] == 2.0 and math.isnan(loss.loc[150])
    assert list(run.series("val_loss").index) == list(range(0, 200, 20))
    assert run.has("grad_norm") and run.has("lr")


def test_tensorboard_values_match_tbparse(tmp_path):
    """The speed benchmark's comparison is fair only if both read the same numbers."""
    import numpy as np
    from tbparse import SummaryReader

    folder = write_tensorboard(tmp_path / "tb", nan_at=150)
    theirs = SummaryReader(str(folder)).scalars
    (run,) = read_runs(folder)
    for tag, signal in [("Loss/train", "loss"), ("Loss/val", "val_loss"), ("grad_norm", "grad_norm")]:
        expected = theirs[theirs.tag == tag].sort_values("step")
        ours = run.series(signal)
        assert list(ours.index) == expected.step.tolist()
        assert np.array_equal(ours.to_numpy(), expected.value.to_numpy(dtype="float64"), equal_nan=True)


def test_tensorboard_tag_logged_only_as_a_histogram_is_no_signal(tmp_path):
    import numpy as np
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path))
    for step in range(30):
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
        writer.add_histogram("grad_norm", np.random.default_rng(step).random(10), step)
    writer.close()
    (run,) = read_runs(tmp_path)
    assert run.has("loss") and not run.has("grad_norm")


def test_tensorboard_tf2_tensor_scalars(tmp_path):
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.scalar import summary_v2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path))
    for step in range(50):
        summary = summary_v2.scalar_pb("train/loss", 3.0 - 0.01 * step)
        writer.add_event(event_pb2.Event(step=step, wall_time=1.0, summary=summary))
    writer.close()
    (run,) = read_runs(tmp_path)
    assert run.series("loss").iloc[-1] == pytest.approx(3.0 - 0.49)


def test_tensorboard_file_cut_mid_record_keeps_what_came_before(tmp_path):
    folder = write_tensorboard(tmp_path / "tb")
    (event_file,) = folder.iterdir()
    data = event_file.read_bytes()
    cut = tmp_path / "cut" / event_file.name
    cut.parent.mkdir()
    cut.write_bytes(data[: len(data) // 2 + 7])
    (run,) = read_runs(cut)
    assert 50 < len(run.series("loss")) < 200
    assert [n.kind for n in run.notes] == ["truncated"]
    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 0xFF
    cut.write_bytes(bytes(corrupt))
    (run,) = read_runs(cut)
    assert run.notes and run.notes[0].kind == "truncated" and "CRC" in run.notes[0].message


@pytest.mark.parametrize("folder, train_points, eval_points, last_loss", [
    ("06_hf_trainer", 18, 5, None),
    ("07_hf_trainer", 10, 10, None),
    ("11_hf_trainer", 20, 0, None),
])
def test_hugging_face_trainer_state(folder, train_points, eval_points, last_loss):
    (run,) = read_runs(REAL / folder)
    assert run.format == "hf_trainer"
    assert len(run.series("loss")) == train_points and len(run.series("grad_norm")) == train_points
    assert (len(run.series("val_loss")) if run.has("val_loss") else 0) == eval_points


def test_hf_summary_entry_is_not_a_training_step():
    (run,) = read_runs(REAL / "06_hf_trainer")
    assert run.series("loss").loc[50] == pytest.approx(4.3588)
    assert run.series("loss").index[-1] == 900  # the train_loss summary at 935 is left out


EXPECTED_READER = {
    "06_hf_trainer": "hf_trainer", "07_hf_trainer": "hf_trainer", "11_hf_trainer": "hf_trainer",
    "09_keras.csv": "csv", "10_keras.csv": "csv", "02_steploss.log": "csv",
    "12_lightning": None, "13_lightning": None,
}


@pytest.mark.parametrize("name, reader", [(k, v) for k, v in EXPECTED_READER.items() if v])
def test_autodetection_picks_the_right_reader_for_real_files(name, reader):
    assert detect_reader(REAL / name).name == reader


def test_autodetection_does_not_confuse_formats(tmp_path):
    write_tensorboard(tmp_path / "tb")
    shutil.copy(REAL / "09_keras.csv", tmp_path / "keras.csv")
    shutil.copytree(REAL / "06_hf_trainer", tmp_path / "hf")
    (tmp_path / "run.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.0}\n')
    found = {p.name: detect_reader(p).name for p in find_runs(tmp_path)}
    assert found == {"tb": "tensorboard", "keras.csv": "csv", "hf": "hf_trainer", "run.jsonl": "jsonl"}


def test_mlflow_file_store_written_by_mlflow(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri(f"file:{tmp_path / 'mlruns'}")
    experiment = mlflow.create_experiment("diagnose-test")
    with mlflow.start_run(run_name="lr-sweep-3", experiment_id=experiment):
        for step in range(60):
            mlflow.log_metric("train_loss", 2.0 / (step + 1), step=step)
            if step % 20 == 0:
                mlflow.log_metric("val_loss", 1.0, step=step)
    mlflow.set_tracking_uri("")
    (run_folder,) = find_runs(tmp_path / "mlruns")
    assert detect_reader(run_folder).name == "mlflow"
    (run,) = read_runs(run_folder)
    assert len(run.series("loss")) == 60 and list(run.series("val_loss").index) == [0, 20, 40]
    assert run.meta["run_name"] == "lr-sweep-3"


def test_wandb_ui_export_is_one_run_per_prefix(tmp_path):
    export = tmp_path / "wandb_export.csv"
    export.write_text(
        '"Step","run-a - train/loss","run-a - train/loss__MIN","run-a - train/loss__MAX","run-b - train/loss"\n'
        '0,2.0,2.0,2.0,3.0\n1,1.5,1.5,1.5,nan\n2,,,,2.0\n3,1.0,1.0,1.0,1.8\n')
    assert detect_reader(export).name == "wandb_csv"
    runs = {run.source.split("#")[1]: run for run in read_runs(export)}
    assert list(runs["run-a"].series("loss").index) == [0, 1, 3]
    assert math.isnan(runs["run-b"].series("loss").loc[1])


def test_wandb_history_jsonl(tmp_path):
    history = tmp_path / "wandb-history.jsonl"
    history.write_text("".join(f'{{"_step": {i}, "_runtime": {i * 0.1}, "train/loss": {2.0 / (i + 1)}}}\n'
                               for i in range(30)))
    (run,) = read_runs(history)
    assert run.format == "jsonl" and run.series("loss").index[-1] == 29


def test_parquet_metrics_table(tmp_path):
    import numpy as np
    import pandas as pd

    path = tmp_path / "metrics.parquet"
    pd.DataFrame({"global_step": np.arange(100) * 10, "train/loss": np.linspace(3, 1, 100),
                  "eval_loss": [1.5 if i % 10 == 0 else None for i in range(100)]}).to_parquet(path)
    assert detect_reader(path).name == "parquet"
    (run,) = read_runs(path)
    assert run.series("loss").index[-1] == 990 and len(run.series("val_loss")) == 10


def test_without_the_tensorboard_extra_logs_still_read_and_event_files_say_what_to_install(tmp_path, monkeypatch):
    from diagnose.errors import InputError

    events = write_tensorboard(tmp_path / "tb")
    csv = tmp_path / "run.csv"
    csv.write_text("step,loss\n" + "".join(f"{s},{1 / (s + 1)}\n" for s in range(50)))
    for module in ("crc32c", "tensorboard", "tensorboard.compat.proto", "tensorboard.compat.proto.event_pb2"):
        monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError, as when not installed
    (run,) = read_runs(csv)  # every file is sniffed by the TensorBoard reader too
    assert len(run.series("loss")) == 50
    with pytest.raises(InputError, match=r"pip install 'diagnose\[tensorboard\]'"):
        read_runs(events)
