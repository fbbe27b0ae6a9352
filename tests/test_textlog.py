"""Text/console training logs: real nanoGPT, build-nanogpt and word_language_model logs, and
the exact print formats of Megatron-LM, DeepSpeed, fairseq and the HF Trainer."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest

from diagnose.errors import InputError
from diagnose.ingest import read_runs, textlog
from diagnose.ingest.detect import detect_reader
from diagnose.ingest.textio import read_head

REAL = Path(__file__).parent / "data" / "real_logs"
BATCHES = 2983  # word_language_model: "| epoch 1 |   200/ 2983 batches |"


def one_run(path: Path, **kwargs):
    runs = read_runs(path, **kwargs)
    assert len(runs) == 1
    return runs[0]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def sniff(path: Path) -> float:
    return textlog.sniff(path, read_head(path))


# Real logs ----------------------------------------------------------------------------------

def test_nanogpt_real_log():
    run = one_run(REAL / "01_nanogpt.log")
    assert run.format == "textlog" and run.meta["dialect"] == "nanogpt"
    loss, val = run.series("loss"), run.series("val_loss")
    assert len(loss) == 91 and list(loss.index) == list(range(0, 451, 5))
    assert loss.loc[0] == 4.2709  # `iter 0` follows `step 0: train loss 4.2367`: the later write wins
    assert loss.loc[100] == 3.4880 and loss.loc[420] == 3.5023
    assert math.isnan(loss.loc[425]) and math.isnan(loss.loc[450])
    assert int(np.flatnonzero(np.isnan(loss.to_numpy()))[0]) == 85  # first NaN at iter 425
    assert list(val.index) == [0, 100, 200, 300, 400]
    assert val.iloc[0] == 4.2475 and val.iloc[-1] == 3.3687
    assert run.meta["unmatched_lines"] == 13  # 9 lines of preamble, 4 "saving checkpoint"
    assert run.notes == []


@pytest.mark.parametrize("name, epochs, first_loss, last_loss, last_lr, first_val, last_val", [
    ("03_word_language_model.md", 5, math.nan, math.nan, 0.3125, math.nan, math.nan),
    ("04_word_language_model.md", 6, 12.28, 7.94, 5.0, 18.46, 7.89),
    ("05_word_language_model.md", 6, 7.49, 4.51, 20.0, 5.48, 5.03),
])
def test_word_language_model_real_logs(name, epochs, first_loss, last_loss, last_lr, first_val, last_val):
    run = one_run(REAL / name)
    assert run.meta["dialect"] == "word_language_model"
    loss, lr, val = run.series("loss"), run.series("lr"), run.series("val_loss")
    assert len(loss) == 14 * epochs and loss.index[0] == 200
    assert loss.index[-1] == (epochs - 1) * BATCHES + 2800  # step = (epoch-1)*batches + batch
    np.testing.assert_equal([loss.iloc[0], loss.iloc[-1]], [first_loss, last_loss])
    assert lr.iloc[0] == 20.0 and lr.iloc[-1] == last_lr
    # one valid loss per epoch at the epoch's end; the final "test loss" is not one of them
    assert list(val.index) == [e * BATCHES for e in range(1, epochs + 1)]
    np.testing.assert_equal([val.iloc[0], val.iloc[-1]], [first_val, last_val])


def test_build_nanogpt_real_log():
    run = one_run(REAL / "08_build_nanogpt.md")
    assert run.meta["dialect"] == "build_nanogpt"
    loss, norm, lr = run.series("loss"), run.series("grad_norm"), run.series("lr")
    assert list(loss.index) == list(range(0, 251, 10))
    assert (loss.iloc[0], loss.iloc[-1]) == (10.9677, 0.0052)
    assert (norm.iloc[0], norm.iloc[-1]) == (6.74, 0.08)
    assert (lr.iloc[0], lr.iloc[-1]) == (0.000010, 0.000722)
    assert "val_loss" not in run.names


def _real_files() -> list[Path]:
    files = []
    for entry in sorted(REAL.iterdir()):
        if entry.is_dir():
            files += sorted(p for p in entry.iterdir() if p.is_file())
        elif entry.name != "SOURCES.md":
            files.append(entry)
    return files


EXPECTED_READER = {
    "01_nanogpt.log": "textlog", "02_steploss.log": "csv", "03_word_language_model.md": "textlog",
    "04_word_language_model.md": "textlog", "05_word_language_model.md": "textlog",
    "08_build_nanogpt.md": "textlog", "09_keras.csv": "csv", "10_keras.csv": "csv",
    "06_hf_trainer": "hf_trainer", "07_hf_trainer": "hf_trainer", "11_hf_trainer": "hf_trainer",
    "12_lightning": "csv", "13_lightning": "csv",
}


@pytest.mark.parametrize("path", _real_files(), ids=lambda p: str(p.relative_to(REAL)))
def test_autodetection_of_every_real_log(path):
    key = path.name if path.parent == REAL else path.parent.name
    expected = EXPECTED_READER[key]
    assert detect_reader(path).name == expected
    if expected == "textlog":
        assert 0.8 <= sniff(path) <= 0.95
    else:  # tables with a header (02 is a TSV named .log), trainer_state.json: never textlog's
        assert sniff(path) == 0.0


# Synthetic lines in the exact formats the trainers print -------------------------------------

MEGATRON = (
    " iteration {step:8d}/    5000 | consumed samples:        {samples} | elapsed time per "
    "iteration (ms): 1234.5 | learning rate: 1.0E-04 | global batch size:     8 | lm loss: {loss} | "
    "loss scale: {scale} | grad norm: {norm} | number of skipped iterations:   {skipped} | "
    "number of nan iterations:   {nans} |\n"
)


def test_megatron_lines(tmp_path):
    text = "using world size: 8, data-parallel size: 8\n"
    text += MEGATRON.format(step=100, samples=800, loss="7.2E+00", scale="65536.0", norm="1.23", skipped=0, nans=0)
    text += MEGATRON.format(step=200, samples=1600, loss="6.5E+00", scale="32768.0", norm="inf", skipped=1, nans=1)
    text += " validation loss at iteration 200 | lm loss value: 6.4E+00 | lm loss PPL: 6.0E+02 |\n"
    text += MEGATRON.format(step=300, samples=2400, loss="NAN", scale="32768.0", norm="0.98", skipped=0, nans=1)
    run = one_run(write(tmp_path, "megatron.log", text))
    assert run.meta["dialect"] == "megatron"
    np.testing.assert_equal(list(run.series("loss")), [7.2, 6.5, math.nan])  # '{:.6E}' prints NAN
    assert list(run.series("loss").index) == [100, 200, 300]
    assert list(run.series("lr")) == [1e-4] * 3
    assert list(run.series("loss_scale")) == [65536.0, 32768.0, 32768.0]
    assert run.series("grad_norm").loc[200] == math.inf and run.series("grad_norm").loc[300] == 0.98
    assert list(run.series("skipped_steps")) == [0, 1, 0]
    assert list(run.series("nan_steps")) == [0, 1, 1]
    assert dict(run.series("val_loss")) == {200: 6.4}


def test_megatron_lines_of_older_versions(tmp_path):
    line = (" iteration {step:8d}/    1000 | elapsed time per iteration (ms): 512.3 | learning rate 1.500E-04 |"
            " lm loss {loss} | loss scale 4096.0 |\n")
    text = line.format(step=10, loss="1.050000E+01") + line.format(step=20, loss="9.800000E+00")
    text += " validation loss at iteration 20 | LM loss: 9.700000E+00 | LM PPL: 1.6E+04\n"
    run = one_run(write(tmp_path, "megatron_old.log", text))
    assert dict(run.series("loss")) == {10: 10.5, 20: 9.8}
    assert dict(run.series("lr")) == {10: 1.5e-4, 20: 1.5e-4}
    assert dict(run.series("val_loss")) == {20: 9.7}


DS_STEP = "[2024-05-01 10:00:00,123] [INFO] [logging.py:96:log_dist] [Rank 0] step={step}, skipped={skipped}, lr=[{lr}], mom=[(0.9, 0.999)]\n"
DS_OVERFLOW = ("[2024-05-01 10:00:01,456] [INFO] [loss_scaler.py:183:update_scale] [deepspeed] OVERFLOW! "
               "Rank 0 Skipping step. Attempted loss scale: {old}, reducing to {new}\n")


def test_deepspeed_steps_and_overflows(tmp_path):
    text = (DS_OVERFLOW.format(old=65536, new=32768)  # before any step line: step 0
            + DS_STEP.format(step=10, skipped=1, lr=0.001)
            + DS_OVERFLOW.format(old=32768, new=16384)
            + DS_STEP.format(step=20, skipped=2, lr=0.0009)
            + DS_OVERFLOW.format(old=16384, new=8192)
            + DS_OVERFLOW.format(old=8192, new=4096)
            + DS_STEP.format(step=30, skipped=4, lr=0.0008)
            + "[2024-05-01 10:00:02,789] [INFO] [loss_scaler.py:190:update_scale] [deepspeed] OVERFLOW! Rank 0 Skipping step.\n")
    run = one_run(write(tmp_path, "ds.log", text))
    assert run.meta["dialect"] == "deepspeed"
    assert dict(run.series("lr")) == {10: 0.001, 20: 0.0009, 30: 0.0008}
    # an overflow names no step: it is recorded at the latest step the log printed
    assert dict(run.series("loss_scale")) == {0: 32768.0, 10: 16384.0, 20: 4096.0}
    assert dict(run.series("skipped_steps")) == {0: 1.0, 10: 2.0, 20: 4.0, 30: 5.0}  # bf16: no scales
    assert run.notes == []


FAIRSEQ = ('2021-03-01 10:{minute:02d}:00 | INFO | {kind} | {{"epoch": 1, "update": 0.{minute}, {body}, '
           '"wps": "15000", "wall": "{minute}0"}}\n')


def test_fairseq_json_progress_lines(tmp_path):
    text = "2021-03-01 09:59:00 | INFO | fairseq_cli.train | model transformer, criterion CrossEntropyCriterion\n"
    text += FAIRSEQ.format(minute=1, kind="train_inner", body='"loss": "9.3", "gnorm": "2.1", "lr": "0.0005", "num_updates": "100"')
    text += FAIRSEQ.format(minute=2, kind="train_inner", body='"loss": "8.7", "gnorm": "inf", "lr": "0.0005", "num_updates": "200"')
    text += FAIRSEQ.format(minute=3, kind="valid", body='"valid_loss": "8.1", "valid_ppl": "276", "valid_num_updates": "200"')
    text += FAIRSEQ.format(minute=4, kind="train_inner", body='"loss": 8.2, "gnorm": 1.9, "lr": 0.0004, "num_updates": 300')
    run = one_run(write(tmp_path, "fairseq.log", text))
    assert run.meta["dialect"] == "fairseq"
    assert dict(run.series("loss")) == {100: 9.3, 200: 8.7, 300: 8.2}
    assert run.series("grad_norm").loc[200] == math.inf
    assert dict(run.series("val_loss")) == {200: 8.1}
    assert run.series("lr").loc[300] == 0.0004


HF_LINES = [
    "{'loss': 2.31, 'grad_norm': 1.2, 'learning_rate': 5e-05, 'epoch': 0.1}",
    " 20%|██        | 100/500 [00:20<01:20,  4.99it/s]\r{'loss': 2.05, 'grad_norm': tensor(1.5, device='cuda:0'), 'learning_rate': 4e-05, 'epoch': 0.2}",
    "{'eval_loss': 2.4, 'eval_runtime': 1.2, 'eval_samples_per_second': 80.0, 'epoch': 0.2}",
    "{'loss': '1.9', 'grad_norm': 'nan', 'learning_rate': '3e-05', 'epoch': '0.3'}",  # recent transformers print strings
    "{'train_runtime': 100.0, 'train_samples_per_second': 3.0, 'train_loss': 2.1, 'epoch': 0.3}",
]


def test_hf_trainer_stdout_dicts_use_row_order_without_logging_steps(tmp_path):
    run = one_run(write(tmp_path, "train.out", "\n".join(HF_LINES) + "\n"))
    assert run.meta["dialect"] == "hf_trainer_stdout" and run.meta["steps"] == "row order"
    loss = run.series("loss")
    assert dict(loss) == {1: 2.31, 2: 2.05, 3: 1.9}  # the summary's train_loss is not a step
    assert run.series("grad_norm").loc[2] == 1.5 and math.isnan(run.series("grad_norm").loc[3])
    assert dict(run.series("val_loss")) == {2: 2.4}  # eval attaches to the latest train row
    assert run.series("lr").loc[1] == 5e-05


def test_hf_trainer_stdout_dicts_use_logging_steps_when_printed(tmp_path):
    text = "TrainingArguments(\n_n_gpu=1,\nlogging_steps=50,\nlr_scheduler_type=linear,\n)\n"
    run = one_run(write(tmp_path, "train.out", text + "\n".join(HF_LINES) + "\n"))
    assert list(run.series("loss").index) == [50, 100, 150]
    assert list(run.series("val_loss").index) == [100]
    assert "steps" not in run.meta


def test_generic_key_value_lines(tmp_path):
    text = ("2024-05-01 10:00:00 INFO starting training\n"
            "Epoch 1, global_step=100, train_loss=2.5, lr=1e-4, grad_norm: 3.2, time 12ms\n"
            "epoch 1 | step 200 | loss: tensor(2.31) | grad_norm 1.2E+00 | val_loss: inf\n"
            "Iter 300 Loss nan LR 3e-4 throughput 98.5%\n"
            "\x1b[32mstep 400\x1b[0m loss=1.5\n")  # colours
    run = one_run(write(tmp_path, "run.txt", text))
    assert run.meta["dialect"] == "generic"
    loss = run.series("loss")
    assert list(loss.index) == [100, 200, 300, 400]
    assert loss.loc[100] == 2.5 and loss.loc[400] == 1.5 and loss.loc[200] == 2.31 and math.isnan(loss.loc[300])
    assert dict(run.series("grad_norm")) == {100: 3.2, 200: 1.2}
    assert dict(run.series("lr")) == {100: 1e-4, 300: 3e-4}
    assert dict(run.series("val_loss")) == {200: math.inf}


def test_pytorch_mnist_and_keras_console(tmp_path):
    mnist = ("Train Epoch: 1 [0/60000 (0%)]\tLoss: 2.300000\n"
             "Train Epoch: 1 [30000/60000 (50%)]\tLoss: 0.400000\n"
             "\nTest set: Average loss: 0.1000, Accuracy: 9700/10000 (97%)\n\n"
             "Train Epoch: 2 [30000/60000 (50%)]\tLoss: 0.200000\n")
    run = one_run(write(tmp_path, "mnist.log", mnist))
    assert dict(run.series("loss")) == {0: 2.3, 30000: 0.4, 90000: 0.2}  # steps count samples
    assert dict(run.series("val_loss")) == {60000: 0.1}
    keras = ("Epoch 1/2\n"
             "100/1875 [>.............................] - ETA: 5s - loss: 0.9000 - accuracy: 0.7000\n"
             "1875/1875 [==============================] - 5s 3ms/step - loss: 0.2970 - accuracy: 0.9139 - val_loss: 0.1458 - val_accuracy: 0.9567\n"
             "Epoch 2/2\n"
             "1875/1875 ━━━━━━━━━━━━━━━━━━━━ 5s 2ms/step - accuracy: 0.9500 - loss: 0.1500 - val_accuracy: 0.9600 - val_loss: 0.1300\n")
    run = one_run(write(tmp_path, "keras.log", keras))
    assert dict(run.series("loss")) == {1: 0.297, 2: 0.15}  # epoch-end lines only
    assert dict(run.series("val_loss")) == {1: 0.1458, 2: 0.13}


# What text logs do wrong ----------------------------------------------------------------------

NANO = "iter {step}: loss {loss:.4f}, time 35.20ms, mfu 1.20%\n"


def nano_log(steps, loss=lambda s: 3.0 - 0.001 * s) -> str:
    return "".join(NANO.format(step=s, loss=loss(s)) for s in steps)


def test_half_written_last_metric_line_is_dropped_with_a_note(tmp_path):
    cut = write(tmp_path, "cut.log", nano_log(range(0, 50, 10)) + "iter 50: loss 2.9")
    run = one_run(cut)
    assert list(run.series("loss").index) == [0, 10, 20, 30, 40]  # not 2.9 at step 50
    assert [n.kind for n in run.notes] == ["truncated"]


def test_complete_last_line_without_newline_and_cut_chatter_are_not_truncation(tmp_path):
    complete = write(tmp_path, "complete.log", nano_log(range(0, 60, 10)).rstrip("\n"))
    run = one_run(complete)
    assert run.series("loss").index[-1] == 50 and run.notes == []
    chatter = write(tmp_path, "chatter.log", nano_log(range(0, 60, 10)) + "saving checkp")
    run = one_run(chatter)
    assert run.series("loss").index[-1] == 50 and run.notes == []


def test_resumed_text_log_keeps_the_latest_segment(tmp_path):
    text = nano_log(range(0, 500, 10)) + "resuming from out/ckpt.pt\n" + nano_log(range(300, 800, 10), lambda s: 1.0)
    run = one_run(write(tmp_path, "resumed.log", text))
    loss = run.series("loss")
    assert list(loss.index) == list(range(0, 800, 10))
    assert (loss.loc[300:] == 1.0).all()
    resumed = [n for n in run.notes if n.kind == "resumed"]
    assert len(resumed) == 1 and resumed[0].step == 300


def test_gzipped_log_reads_like_the_plain_one(tmp_path):
    plain = (REAL / "01_nanogpt.log").read_bytes()
    packed = tmp_path / "train.log.gz"
    packed.write_bytes(gzip.compress(plain))
    assert detect_reader(packed).name == "textlog"
    ours, theirs = one_run(packed), one_run(REAL / "01_nanogpt.log")
    assert ours.series("loss").equals(theirs.series("loss"))
    assert ours.series("val_loss").equals(theirs.series("val_loss"))


def test_sniff_leaves_tables_and_json_to_their_readers(tmp_path):
    jsonl = write(tmp_path, "metrics.log", "".join(json.dumps({"step": s, "loss": 1.0, "lr": 0.1}) + "\n"
                                                   for s in range(10)))
    document = write(tmp_path, "state.json", json.dumps({"log_history": [{"step": s, "loss": 1.0} for s in range(5)]}, indent=2))
    table = write(tmp_path, "train.txt", "step loss\n".replace(" ", "\t") + "".join(f"{s}\t1.5\n" for s in range(10)))
    for path in (jsonl, document, table):
        assert sniff(path) == 0.0
    assert detect_reader(jsonl).name == "jsonl" and detect_reader(table).name == "csv"


def test_chatter_scores_zero_and_forced_read_names_the_problem(tmp_path):
    chatter = write(tmp_path, "notes.txt", "downloading dataset\nstep one: install\nloss of data is bad\n")
    assert sniff(chatter) == 0.0
    with pytest.raises(InputError, match=r"notes.txt.*no training metrics"):
        read_runs(chatter, input_format="textlog")
