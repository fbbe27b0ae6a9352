"""`diagnose watch` on a log a separate process is still appending to."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import time

import pytest

WRITER = textwrap.dedent("""
    import math, sys, time
    path, nan_at = sys.argv[1], int(sys.argv[2])
    with open(path, "w") as log:
        log.write("step,loss,grad_norm\\n")
        for step in range(400):
            loss = float("nan") if step >= nan_at else 2.0 * math.exp(-step / 80) + 0.3
            log.write(f"{step},{loss},1.0\\n")
            log.flush()
            time.sleep(0.01)
""")


def watch_while_writing(log, writer_args: list[str]) -> None:
    """Run `diagnose watch --exit-on error` while another process writes the log, which goes
    NaN at step 250: watch must exit 1 and report that step once, well before its timeout."""
    writer = subprocess.Popen([sys.executable, "-c", *writer_args])
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "diagnose", "watch", str(log), "--exit-on", "error",
                             "--interval", "0.2", "--timeout", "60"], capture_output=True, text=True, timeout=90)
    writer.wait(timeout=60)
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stdout.splitlines() if "non_finite" in line]
    assert len(lines) == 1 and "step 250" in lines[0]
    assert time.monotonic() - started < 60


def test_watch_reports_a_new_nan_once_and_exits_on_error(tmp_path):
    log = tmp_path / "live.csv"
    watch_while_writing(log, [WRITER, str(log), "250"])


TEXT_WRITER = textwrap.dedent("""
    import math, sys, time
    path = sys.argv[1]
    with open(path, "w") as log:
        log.write("number of parameters: 10.65M\\n")
        for step in range(400):
            loss = float("nan") if step >= 250 else 2.0 * math.exp(-step / 80) + 0.3
            log.write(f"iter {step}: loss {loss:.4f}, time 31.20ms, mfu 12.34%\\n")
            log.flush()
            time.sleep(0.01)
""")

TENSORBOARD_WRITER = textwrap.dedent("""
    import math, sys, time
    from torch.utils.tensorboard import SummaryWriter
    writer = SummaryWriter(sys.argv[1])
    for step in range(400):
        loss = float("nan") if step >= 250 else 2.0 * math.exp(-step / 80) + 0.3
        writer.add_scalar("train/loss", loss, step)
        writer.add_scalar("train/grad_norm", 1.0, step)
        writer.flush()
        time.sleep(0.01)
    writer.close()
""")


@pytest.mark.parametrize("name, writer_code", [("train.log", TEXT_WRITER), ("tb", TENSORBOARD_WRITER)])
def test_watch_follows_text_logs_and_tensorboard_folders(tmp_path, name, writer_code):
    log = tmp_path / name
    if name == "tb":
        log.mkdir()
    watch_while_writing(log, [writer_code, str(log)])


def test_watch_stays_quiet_on_a_healthy_run_until_timeout(tmp_path):
    log = tmp_path / "live.jsonl"
    log.write_text("".join(f'{{"step": {s}, "loss": {2.0 / (s + 1) + 0.3}}}\n' for s in range(300)))
    result = subprocess.run([sys.executable, "-m", "diagnose", "watch", str(log), "--exit-on", "error",
                             "--interval", "0.1", "--timeout", "1.5"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ERROR" not in result.stdout


def test_watch_reads_logged_values_as_the_batch_reader_does():
    """DeepSpeed logs lr=[0.001]; a boolean is no value; blank cells are not logged."""
    from diagnose.watch import _CsvRows, _JsonRows

    assert _JsonRows().parse('{"step": 3, "loss": 0.5, "lr": [0.001], "grad_norm": true}') == (3, {"loss": 0.5, "lr": 0.001})
    rows = _CsvRows()
    rows.parse("step,loss,grad_norm")
    step, values = rows.parse("7, nan ,")
    assert step == 7 and math.isnan(values["loss"]) and "grad_norm" not in values
