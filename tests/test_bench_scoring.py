"""The benchmark's scoring code, on a tiny hand-made manifest with known answers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from scoring import Label, Prediction, score  # noqa: E402

LABELS = [
    Label("healthy-a", {}),
    Label("healthy-b", {}),
    Label("spike", {"loss_spike": 100}, ["lr_too_high", "missing_grad_clipping"]),
    Label("nan", {"non_finite": 50}, ["bad_input_data"]),
    Label("diverge", {"divergence": 300}, ["lr_too_high"], acceptable={"loss_spike"}),
]
PREDICTIONS = [
    Prediction("healthy-a", {}),
    Prediction("healthy-b", {"loss_spike": 10}, ["lr_too_high"]),  # a false alarm
    Prediction("spike", {"loss_spike": 104}, ["missing_grad_clipping", "lr_too_high"]),
    Prediction("nan", {"non_finite": 50}, ["bad_input_data"]),
    Prediction("diverge", {"loss_spike": 290}, ["lr_too_high"]),  # missed divergence
]


def test_symptom_precision_recall_and_onset_error():
    result = score(LABELS, PREDICTIONS)
    spike = result.symptoms["loss_spike"]
    assert (spike.true_positives, spike.false_positives, spike.false_negatives) == (1, 1, 0)
    assert spike.precision == 0.5 and spike.recall == 1.0 and spike.median_onset_error == 4
    assert result.symptoms["divergence"].recall == 0.0
    assert result.symptoms["divergence"].precision is None  # never reported
    assert result.symptoms["non_finite"].median_onset_error == 0


def test_false_alarms_and_cause_accuracy():
    result = score(LABELS, PREDICTIONS)
    assert result.false_alarm_rate == 0.5
    assert result.top1_accuracy == pytest.approx(2 / 3)  # spike's top cause is wrong
    assert result.top3_accuracy == 1.0


def test_coverage_limits_what_a_peer_rule_is_charged_with():
    result = score(LABELS, PREDICTIONS, covered={"loss_spike"})
    assert set(result.symptoms) == {"loss_spike"}
    assert result.false_alarm_rate == 0.5


def test_a_run_with_no_prediction_counts_as_all_missed():
    result = score(LABELS[2:3], [])
    assert result.symptoms["loss_spike"].false_negatives == 1 and result.top1 == 0
