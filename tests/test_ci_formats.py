"""CI outputs: GitHub annotations and job summary, JUnit XML parsed back."""

from __future__ import annotations

import os
import subprocess
import sys
from xml.etree import ElementTree as ET

import numpy as np
import pytest


@pytest.fixture(scope="module")
def nan_log(tmp_path_factory):
    rng = np.random.default_rng(3)
    loss = 2 * np.exp(-np.arange(600) / 100) + 0.2 + 0.02 * rng.standard_normal(600)
    loss[400:] = np.nan
    path = tmp_path_factory.mktemp("ci") / "nan.csv"
    path.write_text("step,loss\n" + "".join(f"{i},{v}\n" for i, v in enumerate(loss)))
    return path


def run_cli(*args, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "diagnose", *map(str, args)],
                          capture_output=True, text=True, env=full_env, timeout=120)


def test_github_actions_gets_annotations_and_a_job_summary(nan_log, tmp_path):
    summary = tmp_path / "step_summary.md"
    summary.write_text("previous step's summary\n")
    result = run_cli(nan_log, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 1
    (line,) = [l for l in result.stdout.splitlines() if l.startswith("::error ")]
    assert "title=non_finite" in line and "step 400" in line and "\n" not in line
    text = summary.read_text()
    assert text.startswith("previous step's summary\n") and "non_finite" in text and "- [ ]" in text


def test_junit_xml_has_a_case_per_rule_and_fails_the_finding(nan_log):
    result = run_cli(nan_log, "--format", "junit")
    assert result.returncode == 1
    root = ET.fromstring(result.stdout)
    (suite,) = root.findall("testsuite")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert "non-finite" in cases and "loss-spike" in cases
    failure = cases["non-finite"].find("failure")
    assert failure is not None and failure.get("type") == "non_finite"
    assert cases["overfitting"].find("skipped") is not None
    assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases.values())


def test_junit_never_fails_with_fail_on_never(nan_log):
    root = ET.fromstring(run_cli(nan_log, "--format", "junit", "--fail-on", "never").stdout)
    assert root.find("testsuite").get("failures") == "0"
