"""The CLI end to end, as a user and a CI job run it: real processes, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_rules import CONTRACT_CAUSES, CONTRACT_SYMPTOMS

RUN_KEYS = {"source", "format", "steps", "signals", "status", "findings"}
FINDING_KEYS = {"symptom", "severity", "rule", "step", "end_step", "confidence", "evidence", "causes"}
CAUSE_KEYS = {"cause", "score", "fixes"}
SEVERITY = {"info": 0, "warning": 1, "error": 2}


def diagnose(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diagnose", *map(str, args)],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def spike_log(tmp_path_factory) -> Path:
    """A noisy decaying loss with a cliff at step 1200 and the grad norm surging with it."""
    rng = np.random.default_rng(0)
    steps = np.arange(2000)
    loss = 2 * np.exp(-steps / 300) + 0.3 + 0.03 * rng.standard_normal(len(steps))
    loss[1200:1400] *= 6
    grad = 1 + 0.1 * rng.standard_normal(len(steps))
    grad[1195:1400] *= 40
    path = tmp_path_factory.mktemp("logs") / "spike.csv"
    path.write_text("step,loss,grad_norm,lr\n" + "".join(
        f"{s},{l:.5f},{g:.4f},{1e-3 * min(1, s / 1000):.3g}\n" for s, l, g in zip(steps, loss, grad)))
    return path


@pytest.fixture(scope="module")
def healthy_log(tmp_path_factory) -> Path:
    rng = np.random.default_rng(1)
    steps = np.arange(1500)
    loss = 1.5 * np.exp(-steps / 200) + 0.2 + 0.02 * rng.standard_normal(len(steps))
    path = tmp_path_factory.mktemp("logs") / "healthy.jsonl"
    path.write_text("".join(json.dumps({"step": int(s), "train/loss": float(l), "learning_rate": 1e-3}) + "\n"
                            for s, l in zip(steps, loss)))
    return path


def test_json_report_has_the_contract_shape(spike_log, healthy_log):
    result = diagnose(spike_log, healthy_log, "--format", "json", "--fail-on", "never")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["tool"] == "diagnose" and isinstance(report["version"], str)
    assert [Path(r["source"]).name for r in report["runs"]] == ["spike.csv", "healthy.jsonl"]
    for run in report["runs"]:
        assert RUN_KEYS <= set(run) and run["status"] in ("healthy", "warning", "failed")
        assert isinstance(run["steps"], int) and all(isinstance(s, str) for s in run["signals"])
        ranks = [(-SEVERITY[f["severity"]], -f["confidence"]) for f in run["findings"]]
        assert ranks == sorted(ranks)
        for finding in run["findings"]:
            assert FINDING_KEYS <= set(finding) and finding["severity"] in SEVERITY
            assert finding["symptom"] in CONTRACT_SYMPTOMS | {"resumed", "truncated"}
            assert 0 <= finding["confidence"] <= 1 and all(isinstance(e, str) for e in finding["evidence"])
            scores = [c["score"] for c in finding["causes"]]
            assert scores == sorted(scores, reverse=True)
            for cause in finding["causes"]:
                assert CAUSE_KEYS <= set(cause) and cause["cause"] in CONTRACT_CAUSES and cause["fixes"]
    spike, healthy = report["runs"]
    assert spike["status"] == "failed" and healthy["status"] == "healthy"
    (first,) = [f for f in spike["findings"] if f["symptom"] == "loss_spike"]
    assert 1195 <= first["step"] <= 1205 and "lr_too_high" in {c["cause"] for c in first["causes"]}


@pytest.mark.parametrize("fail_on, code", [("error", 1), ("warning", 1), ("info", 1), ("never", 0)])
def test_exit_code_follows_fail_on(spike_log, fail_on, code):
    assert diagnose(spike_log, "--fail-on", fail_on, "-f", "json").returncode == code


def test_healthy_run_exits_zero_and_says_healthy(healthy_log):
    result = diagnose(healthy_log)
    assert result.returncode == 0 and "HEALTHY" in result.stdout


def test_terminal_report_shows_verdict_steps_causes_and_fixes(spike_log):
    out = diagnose(spike_log).stdout
    assert "FAILED" in out and "loss_spike" in out and "1200" in out
    assert "lr_too_high" in out and "clip" in out and "\x1b[" not in out
    assert "skipped: overfitting (needs val_loss)" in out


def test_markdown_report_has_a_fix_checklist(spike_log):
    out = diagnose(spike_log, "-f", "markdown").stdout
    assert out.startswith("# ") and "| run |" in out and "- [ ] " in out


BAD_INPUTS = {
    "empty.csv": b"",
    "garbage.bin": bytes(range(256)) * 40,
    "nocolumns.csv": b"step,foo,bar\n1,2,3\n2,3,4\n",
    "broken.jsonl": b'{"step": 1, "loss": 2.0}\n{"step": 2, "lo\n{"step": 3, "loss": 1.8}\n',
}


@pytest.mark.parametrize("name", [*BAD_INPUTS, "missing.csv"])
def test_bad_input_is_one_line_exit_2_and_left_untouched(tmp_path, name):
    path = tmp_path / name
    if name in BAD_INPUTS:
        path.write_bytes(BAD_INPUTS[name])
        os.utime(path, (1_000_000_000, 1_000_000_000))
    result = diagnose(path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("diagnose: error:") and name in lines[0]
    assert "Traceback" not in result.stderr
    if name in BAD_INPUTS:
        assert path.read_bytes() == BAD_INPUTS[name] and path.stat().st_mtime == 1_000_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ([name] if name in BAD_INPUTS else [])


def test_user_rules_folder_overrides_a_threshold(tmp_path, spike_log):
    (tmp_path / "quiet.toml").write_text(
        'id = "loss-spike"\nsymptom = "loss_spike"\nseverity = "info"\ndetector = "spikes.robust_jump"\n'
        'requires = ["loss"]\n[params]\nmin_z = 1000.0\n'
        '[[causes]]\ncause = "lr_too_high"\nbase = 0.5\n'
        '[doc]\nwhat = "x"\nwhy = "y"\nexample = "z"\nfixes = ["f"]\n')
    report = json.loads(diagnose(spike_log, "-f", "json", "--rules", tmp_path, "--fail-on", "never").stdout)
    assert "loss_spike" not in {f["symptom"] for f in report["runs"][0]["findings"]}
    listing = diagnose("rules", "--rules", tmp_path).stdout
    assert "min_z=1000.0" in listing and "quiet.toml" in listing


def test_explain_prints_mechanism_and_fixes():
    out = diagnose("explain", "vanishing_gradients").stdout
    assert "chain rule" in out.lower() and "fix" in out.lower()
    unknown = diagnose("explain", "no_such_thing")
    assert unknown.returncode == 2 and "no_such_thing" in unknown.stderr


def test_baseline_flags_a_run_that_trains_worse_than_a_known_good_one(tmp_path):
    steps = np.arange(3000)
    rng = np.random.default_rng(5)
    for name, tau, floor in [("good", 300, 0.3), ("worse", 600, 0.45), ("same", 300, 0.3)]:
        loss = 2 * np.exp(-steps / tau) + floor + 0.02 * rng.standard_normal(len(steps))
        (tmp_path / f"{name}.csv").write_text("step,loss\n" + "".join(f"{s},{v}\n" for s, v in zip(steps, loss)))
    worse = json.loads(diagnose(tmp_path / "worse.csv", "--baseline", tmp_path / "good.csv", "-f", "json").stdout)
    (finding,) = [f for f in worse["runs"][0]["findings"] if f["symptom"] == "regression"]
    assert finding["severity"] == "error" and "vs baseline" in finding["evidence"][0]
    same = json.loads(diagnose(tmp_path / "same.csv", "--baseline", tmp_path / "good.csv", "-f", "json").stdout)
    assert same["runs"][0]["status"] == "healthy"


def test_a_diagnosed_log_is_left_exactly_as_it_was(tmp_path, spike_log):
    log = tmp_path / "run.csv"
    log.write_bytes(spike_log.read_bytes())
    os.utime(log, (1_000_000_000, 1_000_000_000))
    for output in ("terminal", "json", "markdown", "github", "junit"):
        diagnose(log, "--format", output, "--fail-on", "never")
    assert log.read_bytes() == spike_log.read_bytes() and log.stat().st_mtime == 1_000_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["run.csv"]  # nothing written beside it
