"""Detectors as pure functions: each finds its pattern where it is, and stays quiet on a
noisy healthy curve. Signals are built here so the truth is known exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diagnose.detectors import get_detector
from diagnose.detectors.common import (
    SAMPLE_POINTS,
    block_medians,
    block_sigmas,
    block_upper_medians,
    index_runs,
    median,
    percentile,
    sample,
)
from diagnose.engine import missing_signals
from diagnose.rules import load_rules
from diagnose.run import Run

N = 3000
STEPS = np.arange(N) * 10  # step units need not be row numbers


def params(rule_id: str) -> dict:
    return load_rules().rules[rule_id].params


def run_of(**signals: np.ndarray) -> Run:
    return Run({name: pd.Series(values, index=STEPS[: len(values)]) for name, values in signals.items()})


def healthy_loss(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (2.3 * np.exp(-np.arange(N) / 500) + 0.1) * (1 + 0.15 * rng.standard_normal(N))


def healthy_grad(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    return 1.0 + 0.3 * rng.standard_normal(N) ** 2


@pytest.mark.parametrize("seed", range(5))
def test_no_detector_fires_on_a_noisy_healthy_run(seed: int):
    run = run_of(loss=healthy_loss(seed), grad_norm=healthy_grad(seed), lr=np.full(N, 1e-3))
    for rule in load_rules().rules.values():
        if missing_signals(run, rule.requires):
            continue
        events = get_detector(rule.detector)(run, rule.params)
        assert events == [], f"{rule.id} fired on a healthy run: {events}"


def test_spike_found_at_its_step_with_recovery():
    loss = healthy_loss()
    loss[1500:1505] *= 12
    (event,) = get_detector("spikes.robust_jump")(run_of(loss=loss), params("loss-spike"))
    assert event.step == STEPS[1500] and event.stats["ratio"] > 5
    assert event.stats["recovered"] and not event.stats["benign"]


def test_spike_that_never_recovers_is_not_recovered():
    loss = healthy_loss()
    loss[1500:] = 5.0 + 0.01 * np.arange(N - 1500)
    events = get_detector("spikes.robust_jump")(run_of(loss=loss), params("loss-spike"))
    assert events and events[0].step == STEPS[1500] and not events[0].stats["recovered"]


def test_first_nonfinite_reports_first_step_and_every_signal():
    loss, grad = healthy_loss(), healthy_grad()
    grad[2000] = np.inf
    loss[2001:] = np.nan
    (event,) = get_detector("nonfinite.first_nonfinite")(run_of(loss=loss, grad_norm=grad), params("non-finite"))
    assert event.step == STEPS[2000]
    assert event.stats["signals"] == ["grad_norm", "loss"]
    assert event.stats["count"] == 1 + (N - 2001)


def test_divergence_onset_is_where_the_loss_leaves_its_best():
    loss = healthy_loss()
    loss[1200:] *= np.exp((np.arange(N - 1200)) / 300)
    (event,) = get_detector("trends.divergence")(run_of(loss=loss), params("divergence"))
    assert abs(event.step - STEPS[1200]) <= 0.05 * STEPS[-1]
    assert event.stats["ratio"] > 10


def test_exploding_gradients_found_from_growth_by_orders():
    grad = healthy_grad()
    grad[1000:] *= 10 ** (np.arange(N - 1000) / 500)
    (event,) = get_detector("gradients.exploding")(run_of(loss=healthy_loss(), grad_norm=grad), params("exploding-gradients"))
    assert event.stats["orders"] >= 1.5
    assert STEPS[1000] <= event.step <= STEPS[1700]


def test_a_gradient_that_grows_while_the_loss_falls_is_learning_not_an_explosion():
    """An RNN finding its signal: the grad norm grows 30x from a small start as the loss
    falls from its initial level to near zero (the loss is noisy before, not flat)."""
    rng = np.random.default_rng(4)
    t = np.arange(N)
    loss = (1.0 / (1 + np.exp((t - 600) / 80)) + 0.01) * (1 + 0.1 * rng.standard_normal(N))
    grad = np.where(t < 300, 0.2, 6.0) * (1 + 0.2 * rng.standard_normal(N))
    assert get_detector("gradients.exploding")(run_of(loss=loss, grad_norm=grad), params("exploding-gradients")) == []
    stalled = np.where(t < 300, loss, 1.0 + 0.05 * rng.standard_normal(N))  # same gradients, no learning
    (event,) = get_detector("gradients.exploding")(run_of(loss=stalled, grad_norm=grad), params("exploding-gradients"))
    assert abs(event.step - STEPS[300]) <= 0.05 * STEPS[-1]


def test_vanishing_per_layer_needs_early_layers_far_below_late_ones():
    flat = np.full(N, 2.3) + 0.01 * np.random.default_rng(0).standard_normal(N)
    layers = {f"grad_norm/layers.{i}.weight": np.full(N, 10.0 ** (i - 6)) for i in range(6)}
    run = run_of(loss=flat, **layers)
    (event,) = get_detector("gradients.layer_ratio")(run, params("vanishing-gradients-layers"))
    assert event.stats["orders"] == pytest.approx(5.0)
    even = run_of(loss=flat, **{k: np.ones(N) for k in layers})
    assert get_detector("gradients.layer_ratio")(even, params("vanishing-gradients-layers")) == []


def test_stuck_at_chance_finds_k_from_the_loss_level():
    rng = np.random.default_rng(0)
    loss = np.log(10) + 0.005 * rng.standard_normal(N)
    (event,) = get_detector("plateaus.stuck_at_chance")(run_of(loss=loss), params("stuck-at-chance"))
    assert event.stats["k"] == 10


def test_overfitting_onset_is_the_validation_minimum():
    val = np.concatenate([np.linspace(1.0, 0.3, 20), np.linspace(0.3, 0.8, 10)])
    run = run_of(loss=healthy_loss())
    run.signals["val_loss"] = pd.Series(val, index=STEPS[::100][: len(val)])
    (event,) = get_detector("trends.overfitting")(run, params("overfitting"))
    assert event.step == STEPS[::100][19]


def test_plateau_that_escapes_is_saddle_like():
    loss = np.where(np.arange(N) < 1200, 1.0, 0.05 + 0.95 * np.exp(-(np.arange(N) - 1200) / 100))
    grad = np.where(np.arange(N) < 1200, 1e-3, 0.5)
    (event,) = get_detector("plateaus.plateau")(run_of(loss=loss, grad_norm=grad), params("plateau"))
    assert event.step == STEPS[0] and event.stats["escaped"]


def test_a_long_healthy_run_with_noisy_minibatch_loss_is_not_oscillating():
    # 50,000 steps: trained within the first 2,500 (its first 5%), then a loss near 0.06 whose
    # minibatches swing by 80% of it, as in a real moons MLP the held-out corpus produced.
    rng = np.random.default_rng(0)
    steps = np.arange(50_000)
    loss = (0.7 * np.exp(-steps / 300) + 0.06) * np.exp(0.8 * rng.standard_normal(len(steps)) - 0.32)
    grad = np.abs(0.3 + 0.05 * rng.standard_normal(len(steps)))
    run = Run({"loss": pd.Series(loss, index=steps), "grad_norm": pd.Series(grad, index=steps)})
    assert get_detector("plateaus.oscillation")(run, params("oscillation")) == []


def test_block_helpers():
    values = np.arange(10, dtype=float)
    assert block_medians(values, 4).tolist() == [2.0, 6.0, 8.5]  # upper median of full blocks
    median = block_upper_medians(values, 5)
    assert median.tolist() == [2.0, 7.0]
    assert block_sigmas(values, 5, median, np.array([0, 1])).tolist() == [1.4826, 1.4826]
    assert index_runs(np.flatnonzero(np.array([0, 1, 1, 0, 0, 1, 0, 1], bool)), max_gap=1) == [(1, 2), (5, 7)]


def test_block_statistics_over_many_scratch_passes_match_whole_array_statistics():
    values = np.random.default_rng(3).standard_normal(1_000_037)  # several passes, a partial block
    medians = block_upper_medians(values, 50)
    blocks = values[: len(values) // 50 * 50].reshape(-1, 50)
    upper = np.sort(blocks, axis=1)[:, 25]
    assert np.array_equal(medians, upper)
    rows = np.array([0, 7, 19_999])
    mad = np.sort(np.abs(blocks[rows] - upper[rows, None]), axis=1)[:, 25]
    assert np.allclose(block_sigmas(values, 50, medians, rows), 1.4826 * mad)


@pytest.mark.parametrize("seed", range(6))
def test_spike_candidates_match_thresholds_computed_for_every_block(seed):
    from diagnose.detectors.spikes import _Baseline

    rng = np.random.default_rng(seed)
    level = np.repeat(rng.choice([1.0, 1e-3, 0.0], size=21, p=[0.6, 0.3, 0.1]), 1000)[:20_037]
    noise = np.abs(rng.standard_normal(20_037)) if seed % 3 == 0 else 1 + 0.05 * rng.standard_normal(20_037)
    values = level * noise
    values[rng.integers(0, len(values), 40)] += rng.choice([3.0, 30.0, 3000.0], size=40) * np.abs(level).max()
    params = {"min_z": 8.0, "min_ratio": 2.0 if seed % 2 else 1.0, "rel_floor": 0.02 if seed < 3 else 0.0}
    window = 50
    full = len(values) // window
    medians = block_upper_medians(values, window)
    scale = np.fmax(block_sigmas(values, window, medians, np.arange(full)), params["rel_floor"] * np.abs(medians))
    threshold = np.where(medians > 0, np.fmax(medians + 8.0 * scale, params["min_ratio"] * medians),
                         medians + 8.0 * scale)
    threshold = np.where(scale > 0, threshold, np.inf)
    each_point = np.repeat(threshold, window)[: len(values) - window]
    each_point = np.concatenate([each_point, np.full(len(values) - window - len(each_point), threshold[-1])])
    expected = np.flatnonzero(values[window:] > each_point) + window
    assert len(expected) > 0
    baseline = _Baseline(values, window, params)
    assert np.array_equal(baseline.candidates(values), expected)
    for index in expected[:5]:
        block = index // window - 1 if index < full * window else full - 1
        assert baseline.z_at(index, values[index]) == pytest.approx((values[index] - medians[block]) / scale[block])


def test_moving_mean_of_a_long_signal_is_sampled_where_the_whole_would_be():
    from diagnose.detectors.plateaus import _moving_mean, _moving_mean_sample

    values = np.random.default_rng(4).lognormal(size=300_000)
    assert np.allclose(_moving_mean_sample(values, 20), sample(_moving_mean(values, 20)))
    short = values[:1000]
    assert np.array_equal(_moving_mean_sample(short, 20), _moving_mean(short, 20))


def test_levels_are_exact_on_short_signals_and_close_on_long_ones():
    short = np.random.default_rng(0).lognormal(size=SAMPLE_POINTS)
    assert median(short) == np.median(short)
    long = np.random.default_rng(1).lognormal(size=2_000_000)
    spread = np.subtract(*np.percentile(long, [75, 25]))
    assert abs(median(long) - np.median(long)) < 0.01 * spread
    assert np.allclose(percentile(long, [10, 90]), np.percentile(long, [10, 90]), atol=0.02 * spread)
    assert median(long) == median(long.copy())  # a fixed sample: the same log, the same report


def test_block_medians_of_wide_blocks_follow_the_level():
    level = np.repeat([1.0, 10.0, 100.0, 1000.0], 100_000)
    noisy = level * np.random.default_rng(2).lognormal(sigma=0.3, size=len(level))
    assert np.allclose(block_medians(noisy, 100_000), [1, 10, 100, 1000], rtol=0.02)


def test_a_spike_and_an_explosion_in_a_long_log_are_found_where_they_are():
    n = 400_000
    steps = np.arange(n)
    rng = np.random.default_rng(3)
    loss = 2 * np.exp(-5 * steps / n) + 0.3 + 0.05 * rng.standard_normal(n)
    grad = np.abs(1 + 0.2 * rng.standard_normal(n))
    loss[150_000:150_010] += 5
    grad[300_000:] *= np.logspace(0, 3, n - 300_000)
    run = Run({"loss": pd.Series(loss, index=steps), "grad_norm": pd.Series(grad, index=steps)})
    (spike,) = get_detector("spikes.robust_jump")(run, params("loss-spike"))
    assert spike.step == 150_000
    (explosion,) = get_detector("gradients.exploding")(run, params("exploding-gradients"))
    assert 300_000 <= explosion.step <= 340_000


def test_a_softmax_fed_to_cross_entropy_is_found_on_its_floor_in_real_training():
    """Really train a classifier whose last layer is a softmax under nn.CrossEntropyLoss: the
    loss converges onto ln(e + k - 1) - 1 and the cause is the loss function, even though the
    model classifies well."""
    torch = pytest.importorskip("torch")
    from sklearn.datasets import load_digits

    from diagnose.detectors.plateaus import softmax_floor

    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10),
                                torch.nn.Softmax(dim=1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for step in range(600):
        batch = torch.randint(0, len(x), (64,))
        loss = torch.nn.functional.cross_entropy(model(x[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    accuracy = (model(x).argmax(1) == y).float().mean().item()
    (event,) = get_detector("plateaus.underfitting")(run_of(loss=np.array(losses)), params("underfitting"))
    assert event.stats["softmax_floor_k"] == 10 and accuracy > 0.9
    assert abs(event.stats["level"] - softmax_floor(10)) < 0.03 * softmax_floor(10)


def test_only_a_loss_that_settles_on_the_softmax_floor_is_on_it():
    def converging_to(level: float) -> Run:
        run = run_of(loss=(np.log(10) - level) * np.exp(-np.arange(N) / 300) + level)
        run.meta["num_classes"] = 10
        return run

    (on_floor,) = get_detector("plateaus.underfitting")(converging_to(1.4612), params("underfitting"))
    assert on_floor.stats["softmax_floor_k"] == 10
    assert get_detector("plateaus.underfitting")(converging_to(0.3), params("underfitting")) == []
