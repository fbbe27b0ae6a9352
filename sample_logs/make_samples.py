"""Train small models for real (CPU, torch) and write one training log per scenario.

    python sample_logs/make_samples.py            # all scenarios, 2 worker processes
    python sample_logs/make_samples.py --only plateau oscillation --jobs 1   # no manifest/README

Every log comes from an actual optimisation run on scikit-learn's bundled data sets or on
synthetic data (nothing is downloaded, nothing is drawn by hand). After each run a check reads
the logged numbers back and prints the figures that show the scenario's symptom; if one does
not show it, the script exits 1 so the setup gets fixed, never the label. It also writes
manifest.json (expected symptom and cause ids, see shared CONTRACT.md) and README.md.

grad_norm is the global L2 norm of all gradients before the optimizer step (no clipping is
used anywhere); `grad_norm/<param>` are per-parameter norms, input side first.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_diabetes, load_digits, make_classification
from sklearn.preprocessing import StandardScaler
from torch import Tensor, nn

HERE = Path(__file__).resolve().parent
Row = dict[str, float]
Batches = Iterator[tuple[Tensor, Tensor]]
Schedule = Callable[[int], float]


# --------------------------------------------------------------------------- data


def _tensor(x: np.ndarray) -> Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float32))


def digits(n_train: int = 1400, n_val: int = 397) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """8x8 digit images (10 classes), standardized, shuffled once, split train/val."""
    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    x = _tensor(StandardScaler().fit_transform(data.data)[order])
    y = torch.tensor(data.target[order])
    return x[:n_train], y[:n_train], x[-n_val:], y[-n_val:]


def diabetes() -> tuple[Tensor, Tensor]:
    """442 patients, 10 standardized features, standardized disease-progression target."""
    data = load_diabetes()
    target = (data.target - data.target.mean()) / data.target.std()
    return _tensor(StandardScaler().fit_transform(data.data)), _tensor(target)[:, None]


def clusters(n: int, classes: int, sep: float, flip: float, features: int = 20) -> tuple[Tensor, Tensor]:
    """make_classification: Gaussian clusters per class, `flip` of the labels randomised."""
    x, y = make_classification(
        n_samples=n, n_features=features, n_informative=min(features, 10), n_redundant=0,
        n_classes=classes, n_clusters_per_class=1, class_sep=sep, flip_y=flip, random_state=0,
    )
    return _tensor(StandardScaler().fit_transform(x)), torch.tensor(y)


def teacher(n: int, d_in: int = 10, noise: float = 0.3) -> tuple[Tensor, Tensor]:
    """Regression on the output of a fixed random tanh network, plus Gaussian noise."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n, d_in, generator=gen)
    w1, w2 = torch.randn(d_in, 32, generator=gen), torch.randn(32, 1, generator=gen)
    y = torch.tanh(x @ w1 / math.sqrt(d_in)) @ w2 * (3 / math.sqrt(32))
    return x, y + noise * torch.randn(n, 1, generator=gen)


def linear_teacher(n: int, d_in: int = 16, d_out: int = 4, noise: float = 0.2) -> tuple[Tensor, Tensor]:
    """y = x A + noise, A with spread-out singular values (a deep linear net learns them one by one)."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(n, d_in, generator=gen)
    a = torch.randn(d_in, d_out, generator=gen) / math.sqrt(d_in)
    return x, x @ a + noise * torch.randn(n, d_out, generator=gen)


def minibatches(x: Tensor, y: Tensor, size: int, seed: int = 0) -> Batches:
    """Endless shuffled epochs of minibatches (the last incomplete batch is dropped)."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x) - size + 1, size):
            idx = order[i : i + size]
            yield x[idx], y[idx]


def poisoned(batches: Batches, at_step: int) -> Batches:
    """The batch of step `at_step` gets one NaN feature, as a corrupt sample would bring."""
    for step, (x, y) in enumerate(batches, start=1):
        if step == at_step:
            x = x.clone()
            x[3, 17] = float("nan")
        yield x, y


def sequences(length: int, batch: int, seed: int = 0) -> Batches:
    """Gaussian input sequences; the target is their normalised sum (the RNN must integrate)."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        x = torch.randn(batch, length, 1, generator=gen)
        yield x, x.sum(dim=1) / math.sqrt(length)


# --------------------------------------------------------------------------- models


class MLP(nn.Module):
    """Linear layers with an activation between them; parameters are named layers.<i>.*."""

    def __init__(self, sizes: list[int], act: type[nn.Module] = nn.ReLU, *, bias: bool = True,
                 init_std: float | None = None, softmax: bool = False) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        for i, (a, b) in enumerate(itertools.pairwise(sizes)):
            mods.append(nn.Linear(a, b, bias=bias))
            if i < len(sizes) - 2:
                mods.append(act())
        if softmax:
            mods.append(nn.Softmax(dim=1))
        self.layers = nn.Sequential(*mods)
        if init_std is not None:
            for mod in self.layers:
                if isinstance(mod, nn.Linear):
                    nn.init.normal_(mod.weight, std=init_std)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class RNNRegressor(nn.Module):
    """Vanilla tanh RNN over the sequence, a linear head on the last hidden state."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(1, hidden, batch_first=True, nonlinearity="tanh")
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


# --------------------------------------------------------------------------- training


@dataclass
class Fit:
    """One training run: what is optimised, on which batches, and what gets logged."""

    model: nn.Module
    opt: torch.optim.Optimizer
    loss_fn: Callable[[Tensor, Tensor], Tensor]
    batches: Batches
    steps: int
    schedule: Schedule | None = None
    val: tuple[Tensor, Tensor] | None = None
    val_every: int = 0
    per_layer: bool = False
    accuracy: bool = False
    stop_when_non_finite: bool = False
    log_every: int = 1


def train(fit: Fit) -> list[Row]:
    rows = []
    for step in range(1, fit.steps + 1):
        row = train_step(fit, step)
        if fit.val is not None and fit.val_every and step % fit.val_every == 0:
            row.update(evaluate(fit, *fit.val))
        if fit.stop_when_non_finite and not all(math.isfinite(v) for v in row.values()):
            break  # the trainer aborts on a non-finite loss or gradient, as most loops do
        if step % fit.log_every == 0:
            rows.append(row)
    return rows


def train_step(fit: Fit, step: int) -> Row:
    if fit.schedule is not None:
        for group in fit.opt.param_groups:
            group["lr"] = fit.schedule(step)
    fit.model.train()
    x, y = next(fit.batches)
    out = fit.model(x)
    loss = fit.loss_fn(out, y)
    fit.opt.zero_grad()
    loss.backward()
    row: Row = {"step": step, "loss": loss.item()}
    row.update(grad_norms(fit.model, fit.per_layer))
    row["lr"] = fit.opt.param_groups[0]["lr"]
    if fit.accuracy:
        row["accuracy"] = (out.argmax(dim=1) == y).float().mean().item()
    fit.opt.step()
    return row


def grad_norms(model: nn.Module, per_layer: bool) -> Row:
    """Global L2 norm of all gradients; with per_layer, also each weight matrix's norm."""
    norms = {name: p.grad.norm().item() for name, p in model.named_parameters() if p.grad is not None}
    row: Row = {"grad_norm": math.sqrt(sum(n * n for n in norms.values()))}
    if per_layer:
        row.update({f"grad_norm/{name}": n for name, n in norms.items() if "weight" in name})
    return row


@torch.no_grad()
def evaluate(fit: Fit, x: Tensor, y: Tensor) -> Row:
    fit.model.eval()
    out = fit.model(x)
    row = {"val_loss": fit.loss_fn(out, y).item()}
    if fit.accuracy:
        row["val_accuracy"] = (out.argmax(dim=1) == y).float().mean().item()
    return row


def warmup_cosine(peak: float, warmup: int, total: int, floor: float = 0.0) -> Schedule:
    def lr(step: int) -> float:
        if step <= warmup:
            return peak * step / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    return lr


# --------------------------------------------------------------------------- writers

FIRST_COLUMNS = ("step", "loss", "grad_norm", "lr", "accuracy", "val_loss", "val_accuracy")


def columns(rows: list[Row]) -> list[str]:
    seen = dict.fromkeys(k for row in rows for k in row)
    return [c for c in FIRST_COLUMNS if c in seen] + [c for c in seen if c not in FIRST_COLUMNS]


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"
    return f"{value:.6g}"  # 'inf' / '-inf' come out as such


def write_csv(path: Path, rows: list[Row]) -> None:
    cols = columns(rows)
    lines = [",".join(cols)] + [",".join(_cell(row.get(c)) for c in cols) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def write_jsonl(path: Path, rows: list[Row], names: dict[str, str]) -> None:
    """One object per logged step, keys renamed as a real trainer spells them; NaN/Infinity
    appear as json.dumps writes them (allow_nan), as Python trainers' logs do."""
    with path.open("w") as out:
        for row in rows:
            obj = {names.get(k, k): (v if isinstance(v, int) else float(f"{v:.6g}")) for k, v in row.items()}
            out.write(json.dumps(obj) + "\n")


# --------------------------------------------------------------------------- checks


def series(rows: list[Row], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values of one logged signal (rows where it is absent are skipped)."""
    pairs = [(row["step"], row[key]) for row in rows if key in row]
    steps, values = zip(*pairs, strict=True) if pairs else ((), ())
    return np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)


def blocks(values: np.ndarray, n: int = 50) -> np.ndarray:
    """Medians of n consecutive blocks: a robust smoothing of a noisy training curve."""
    size = max(1, len(values) // n)
    usable = len(values) // size * size
    return np.median(values[:usable].reshape(-1, size), axis=1)


def head(values: np.ndarray, fraction: float = 0.05) -> float:
    return float(np.median(values[: max(3, int(len(values) * fraction))]))


def tail(values: np.ndarray, fraction: float = 0.1) -> float:
    return float(np.median(values[-max(3, int(len(values) * fraction)) :]))


def decades_of_growth(values: np.ndarray) -> float:
    """How far the smoothed log10 of a positive signal climbs above its earlier lowest level."""
    logs = np.log10(blocks(values[np.isfinite(values) & (values > 0)]))
    return float(np.max(logs - np.minimum.accumulate(logs)))


def trailing_ratio(values: np.ndarray, window: int = 50) -> np.ndarray:
    """Each value over the median of the `window` values before it (NaN for the first ones)."""
    ratio = np.full(len(values), np.nan)
    for i in range(10, len(values)):
        ratio[i] = values[i] / np.median(values[max(0, i - window) : i])
    return ratio


@dataclass
class Fact:
    """One logged figure and the bound it must meet for the scenario to count as shown."""

    label: str
    value: float
    bound: str
    ok: bool

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.label} = {self.value:.4g} (need {self.bound})"


def above(label: str, value: float, bound: float) -> Fact:
    return Fact(label, value, f"> {bound:g}", bool(value > bound))


def below(label: str, value: float, bound: float) -> Fact:
    return Fact(label, value, f"< {bound:g}", bool(value < bound))


def all_finite(rows: list[Row]) -> Fact:
    bad = sum(not math.isfinite(v) for row in rows for v in row.values())
    return Fact("non-finite cells", bad, "= 0", bad == 0)


def converges(loss: np.ndarray, most: float) -> Fact:
    return below("final/initial loss", tail(loss) / head(loss), most)


def val_not_rising(rows: list[Row], most: float) -> Fact:
    _, val = series(rows, "val_loss")
    return below("final val_loss / its minimum", tail(val, 0.15) / val.min(), most)


def healthy_mlp_check(rows: list[Row]) -> list[Fact]:
    _, loss = series(rows, "loss")
    _, val = series(rows, "val_loss")
    return [all_finite(rows), converges(loss, 0.05), val_not_rising(rows, 1.1),
            below("final val_loss", tail(val, 0.15), 0.2)]


def healthy_warmup_check(rows: list[Row]) -> list[Fact]:
    _, loss = series(rows, "loss")
    smooth = blocks(loss, 10)  # minibatch noise of batch 32 is large; judge the trend
    rebound = float(np.max(smooth / np.minimum.accumulate(smooth)))
    return [all_finite(rows), converges(loss, 0.25), val_not_rising(rows, 1.05),
            below("largest rebound of the 10-block loss over its best so far", rebound, 1.3)]


def non_finite_check(rows: list[Row], at_step: int) -> list[Fact]:
    steps, loss = series(rows, "loss")
    _, grad = series(rows, "grad_norm")
    before, after = loss[steps < at_step], steps >= at_step
    first_bad = int(steps[~np.isfinite(loss)][0]) if not np.isfinite(loss).all() else -1
    rising = tail(before, 0.05) / np.median(before[-150:-100])
    return [
        Fact("first non-finite loss at step", first_bad, f"= {at_step}", first_bad == at_step),
        above("share of NaN losses from there on", float(np.mean(np.isnan(loss[after]))), 0.999),
        above("share of NaN grad norms from there on", float(np.mean(np.isnan(grad[after]))), 0.999),
        below("loss just before / 100 steps earlier (not rising)", rising, 1.5),
    ]


def loss_spike_check(rows: list[Row], warmup: int) -> list[Fact]:
    steps, loss = series(rows, "loss")
    _, grad = series(rows, "grad_norm")
    ratio = trailing_ratio(loss)
    first = int(steps[np.flatnonzero(ratio > 3)[0]]) if np.any(ratio > 3) else -1
    near = (steps >= first - 10) & (steps <= first + 10)
    warming = steps <= warmup
    lag = first - warmup
    return [
        all_finite(rows),
        below("largest loss / trailing-50 median during warm-up", float(np.nanmax(ratio[warming])), 2.5),
        Fact("first >3x jump, steps after warm-up end", lag, "in [0, 60]", 0 <= lag <= 60),
        above("peak loss / trailing median", float(np.nanmax(ratio[~warming])), 5),
        above("grad_norm near the jump / its warm-up median",
              float(grad[near].max() / np.median(grad[warming])), 5),
    ]


def divergence_check(rows: list[Row]) -> list[Fact]:
    _, loss = series(rows, "loss")
    _, grad = series(rows, "grad_norm")
    smooth = blocks(loss)
    rising = float(np.mean(np.diff(smooth[-11:]) > 0))
    return [
        all_finite(rows),
        above("final / best smoothed loss", smooth[-1] / smooth.min(), 10),
        above("final smoothed loss / initial", smooth[-1] / smooth[0], 3),
        above("share of rising block pairs over the last 10 blocks", rising, 0.79),
        above("final / largest smoothed loss (never comes back)", smooth[-1] / smooth.max(), 0.9),
        below("grad_norm growth, decades (not an explosion)", decades_of_growth(grad), 1.5),
    ]


def exploding_check(rows: list[Row]) -> list[Fact]:
    _, grad = series(rows, "grad_norm")
    _, hh = series(rows, "grad_norm/rnn.weight_hh_l0")
    peak = float(np.log10(grad.max() / np.median(grad[: len(grad) // 5])))
    return [
        all_finite(rows),
        above("grad_norm growth, decades (smoothed)", decades_of_growth(grad), 3),
        above("max / median grad_norm of the first 20% (decades)", peak, 4),
        above("recurrent weight grad growth, decades", decades_of_growth(hh), 3),
    ]


def vanishing_check(rows: list[Row]) -> list[Fact]:
    _, loss = series(rows, "loss")
    layers = [k for k in columns(rows) if k.startswith("grad_norm/")]
    first, last = (np.median(series(rows, k)[1]) for k in (layers[0], layers[-1]))
    return [
        all_finite(rows),
        above("weight layers logged", len(layers), 9),
        above("last / first layer median grad norm (decades)", float(np.log10(last / first)), 4),
        above("final / initial loss (barely moves)", tail(loss) / head(loss), 0.8),
    ]


def plateau_check(rows: list[Row]) -> list[Fact]:
    _, loss = series(rows, "loss")
    _, grad = series(rows, "grad_norm")
    smooth, gsmooth = blocks(loss, 100), blocks(grad, 100)
    start = float(np.median(smooth[:5]))
    flat = int(np.argmax(smooth < 0.9 * start))  # blocks before the loss falls 10%
    spread = float(np.ptp(smooth[: flat - 3]) / start)  # the last blocks already bend down
    grad_ratio = float(np.median(gsmooth[:flat]) / gsmooth[flat:].max())
    return [
        all_finite(rows),
        above("share of the run before the loss falls 10% below its start", flat / len(smooth), 0.3),
        below("spread of the smoothed loss on the plateau / its level", spread, 0.06),
        below("grad_norm on the plateau / its peak after", grad_ratio, 0.1),
        below("final / plateau loss (escaped)", smooth[-1] / start, 0.3),
    ]


def oscillation_check(rows: list[Row]) -> list[Fact]:
    _, loss = series(rows, "loss")
    _, grad = series(rows, "grad_norm")
    n = len(loss)
    second = loss[n // 2 :]
    p10, p90 = np.percentile(second, [10, 90])
    level = float(np.median(second))
    progress = (np.median(loss[n // 2 : 3 * n // 4]) - np.median(loss[3 * n // 4 :])) / level
    grad_kept = float(np.median(grad[n // 2 :]) / np.median(grad[: n // 10]))
    return [
        all_finite(rows),
        above("swing (p90 - p10) / median, second half", (p90 - p10) / level, 0.5),
        below("progress from 3rd to 4th quarter / level", progress, 0.05),
        above("second-half median loss / initial", level / head(loss), 0.5),
        above("second-half / first-tenth median grad_norm", grad_kept, 0.5),
        below("max loss / second-half median (bounded, not diverging)", float(loss.max() / level), 20),
    ]


def overfitting_check(rows: list[Row]) -> list[Fact]:
    _, val = series(rows, "val_loss")
    _, loss = series(rows, "loss")
    best = int(np.argmin(val))
    return [
        all_finite(rows),
        below("final train loss", tail(loss, 0.05), 0.01),
        above("final val_loss / its minimum", tail(val, 0.1) / val[best], 1.3),
        above("val points after the minimum", len(val) - best - 1, 10),
    ]


def stuck_check(rows: list[Row]) -> list[Fact]:
    _, loss = series(rows, "loss")
    chance = math.log(10)
    rest = loss[len(loss) // 10 :]
    return [
        all_finite(rows),
        below("distance of the median loss from ln 10 after the first 10%, relative",
              abs(np.median(rest) / chance - 1), 0.01),
        below("largest smoothed distance from ln 10, relative",
              float(np.max(np.abs(blocks(rest) / chance - 1))), 0.02),
    ]


def underfitting_check(rows: list[Row]) -> list[Fact]:
    _, loss = series(rows, "loss")
    _, grad = series(rows, "grad_norm")
    smooth = blocks(loss)
    change = abs(smooth[-13] - smooth[-1]) / smooth[-1]
    return [
        all_finite(rows),
        above("final loss / initial (well above 0)", tail(loss) / head(loss), 0.4),
        below("final loss / ln 10 (well below chance)", tail(loss) / math.log(10), 0.85),
        below("change over the last quarter, relative (converged)", change, 0.05),
        below("final grad_norm / its smoothed peak (small)", tail(grad) / blocks(grad).max(), 0.2),
    ]


# --------------------------------------------------------------------------- scenarios


def run_healthy_mlp() -> list[Row]:
    x, y, xv, yv = digits()
    model = MLP([64, 128, 64, 10])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return train(Fit(model, opt, F.cross_entropy, minibatches(x, y, 64), steps=600, val=(xv, yv),
                     val_every=20, per_layer=True, accuracy=True))


def run_healthy_warmup_decay() -> list[Row]:
    x, y = clusters(22000, classes=5, sep=1.5, flip=0.05)
    model = MLP([20, 64, 64, 5])
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    return train(Fit(model, opt, F.cross_entropy, minibatches(x[:20000], y[:20000], 32), steps=2000,
                     schedule=warmup_cosine(0.05, warmup=150, total=2000), val=(x[20000:], y[20000:]),
                     val_every=100, accuracy=True, log_every=2))


NAN_STEP = 400


def run_non_finite_input() -> list[Row]:
    x, y, xv, yv = digits()
    model = MLP([64, 128, 64, 10])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return train(Fit(model, opt, F.cross_entropy, poisoned(minibatches(x, y, 64), NAN_STEP), steps=700,
                     val=(xv, yv), val_every=25, accuracy=True))


SPIKE_WARMUP = 200


def run_loss_spike() -> list[Row]:
    x, y = teacher(20000)
    model = MLP([10, 256, 256, 256, 1])
    opt = torch.optim.Adam(model.parameters(), lr=0.0)
    return train(Fit(model, opt, F.mse_loss, minibatches(x, y, 256), steps=1000,
                     schedule=warmup_cosine(0.06, warmup=SPIKE_WARMUP, total=1000)))


DIVERGENCE_LR_FACTOR = 1.004


def run_divergence() -> list[Row]:
    x, y = diabetes()
    model = MLP([10, 1])
    # the largest curvature of the full-batch MSE is 2 x the top eigenvalue of E[x x^T] (with bias)
    xb = torch.cat([x, torch.ones(len(x), 1)], dim=1)
    top = 2 * torch.linalg.eigvalsh(xb.T @ xb / len(x)).max().item()
    opt = torch.optim.SGD(model.parameters(), lr=DIVERGENCE_LR_FACTOR * 2 / top)
    return train(Fit(model, opt, F.mse_loss, minibatches(x, y, len(x)), steps=300))


def run_exploding() -> list[Row]:
    model = RNNRegressor(hidden=64)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    return train(Fit(model, opt, F.mse_loss, sequences(length=50, batch=32), steps=600,
                     per_layer=True, stop_when_non_finite=True))


def run_vanishing() -> list[Row]:
    x, y = diabetes()
    model = MLP([10] + [32] * 10 + [1], nn.Sigmoid)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return train(Fit(model, opt, F.mse_loss, minibatches(x, y, 32), steps=600, per_layer=True))


def run_plateau() -> list[Row]:
    x, y = linear_teacher(8000)
    model = MLP([16, 32, 32, 4], nn.Identity, bias=False, init_std=0.005)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return train(Fit(model, opt, F.mse_loss, minibatches(x, y, 1000), steps=1500))


def run_oscillation() -> list[Row]:
    x, y = clusters(2000, classes=4, sep=1.0, flip=0.05, features=5)
    model = MLP([5, 4])
    opt = torch.optim.SGD(model.parameters(), lr=12.0)
    return train(Fit(model, opt, F.cross_entropy, minibatches(x, y, 256), steps=800))


def run_overfitting() -> list[Row]:
    x, y, xv, yv = digits(n_train=60, n_val=500)
    model = MLP([64, 512, 512, 10])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return train(Fit(model, opt, F.cross_entropy, minibatches(x, y, 60), steps=800, val=(xv, yv),
                     val_every=10, accuracy=True))


def run_stuck_at_chance() -> list[Row]:
    x, y, _, _ = digits()
    model = MLP([64, 64, 10], softmax=True)  # probabilities fed to CrossEntropyLoss: softmax twice
    opt = torch.optim.SGD(model.parameters(), lr=0.003)
    return train(Fit(model, opt, nn.CrossEntropyLoss(), minibatches(x, y, 64), steps=800, accuracy=True))


def run_underfitting() -> list[Row]:
    x, y, _, _ = digits()
    model = MLP([64, 2, 10], nn.Tanh)  # two hidden units: a 2-D summary of the image
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    return train(Fit(model, opt, F.cross_entropy, minibatches(x, y, len(x)), steps=2500, accuracy=True))


# Key spellings of real trainers' JSON logs (ingest maps them back to the canonical names).
WANDB_NAMES = {"loss": "train/loss", "grad_norm": "gradient_norm", "lr": "learning_rate",
               "val_loss": "eval_loss", "accuracy": "train/accuracy", "val_accuracy": "eval_accuracy"}
HF_NAMES = {"grad_norm": "grad_norm", "lr": "learning_rate", "val_loss": "eval_loss",
            "val_accuracy": "eval_accuracy"}
LIGHTNING_NAMES = {"step": "global_step", "loss": "train_loss", "grad_norm": "train/grad_norm",
                   "lr": "lr-SGD"}


@dataclass
class Scenario:
    file: str
    scenario: str
    symptoms: list[str]
    cause: str | None
    num_classes: int | None
    description: str
    how: str
    make: Callable[[], list[Row]]
    check: Callable[[list[Row]], list[Fact]]
    seed: int = 0
    names: dict[str, str] = field(default_factory=dict)

    @property
    def format(self) -> str:
        return "jsonl" if self.file.endswith(".jsonl") else "csv"


SCENARIOS = [
    Scenario(
        "healthy_mlp.csv", "healthy", [], None, 10,
        "MLP on digits with Adam: the loss falls and levels off low, val_loss tracks it.",
        "64-128-64-10 ReLU MLP, Adam 1e-3, batch 64, 600 steps on 1400 digits; val on 397 every 20",
        run_healthy_mlp, healthy_mlp_check),
    Scenario(
        "healthy_warmup_decay.jsonl", "healthy", [], None, 5,
        "SGD with momentum, linear warm-up then cosine decay, noisy minibatches: a normal run.",
        "20-64-64-5 ReLU MLP on make_classification (20k samples, 5 classes, 5% labels flipped), "
        "SGD m=0.9, warm-up 150 steps to 0.05 then cosine to 0 at 2000, batch 32; logged every 2 "
        "steps, eval on 2k every 100",
        run_healthy_warmup_decay, healthy_warmup_check, names=WANDB_NAMES),
    Scenario(
        "non_finite_input.jsonl", "non_finite_input", ["non_finite"], "bad_input_data", 10,
        f"A healthy run until one batch carries a NaN feature at step {NAN_STEP}: the loss is NaN "
        "from there on, the weights having turned NaN.",
        f"as healthy_mlp (without per-layer norms); one NaN pixel in the batch of step {NAN_STEP}",
        run_non_finite_input, lambda rows: non_finite_check(rows, NAN_STEP), names=HF_NAMES),
    Scenario(
        "loss_spike.csv", "loss_spike", ["loss_spike"], "lr_too_high", None,
        "Adam warm-up to a peak LR too high for the net: right after the warm-up ends the loss "
        "jumps several-fold with grad-norm surges and stays up for ~80 steps, then comes back "
        "as the cosine decay lowers the LR.",
        f"10-256-256-256-1 ReLU MLP, teacher regression (20k samples), Adam, warm-up {SPIKE_WARMUP} "
        "steps to 0.06 then cosine to 0 at 1000, batch 256",
        run_loss_spike, lambda rows: loss_spike_check(rows, SPIKE_WARMUP), seed=1),
    Scenario(
        "divergence.csv", "divergence", ["divergence"], "lr_too_high", None,
        "SGD step just above the stability limit 2/lambda_max: each step overshoots along the "
        "sharpest direction a little more, so the loss climbs exponentially and never comes back.",
        f"linear regression on diabetes, full-batch SGD, lr = {DIVERGENCE_LR_FACTOR} x 2/lambda_max "
        "of the loss Hessian, 300 steps",
        run_divergence, divergence_check),
    Scenario(
        "exploding_gradients.csv", "exploding_gradients", ["exploding_gradients", "divergence"],
        "missing_grad_clipping", None,
        "Vanilla tanh RNN on 50-step sequences, no clipping: after ~200 quiet steps the gradient "
        "norm climbs by more than ten orders of magnitude within a few dozen steps and the loss "
        "blows up with it; the trainer stops before the first non-finite value.",
        "RNN(1->64, tanh) + linear head, target = normalised sum of the sequence, SGD lr 0.05, "
        "batch 32; per-parameter grad norms",
        run_exploding, exploding_check),
    Scenario(
        "vanishing_gradients.csv", "vanishing_gradients", ["vanishing_gradients"],
        "saturating_activation", None,
        "Ten sigmoid layers: the first layer's gradient is orders of magnitude below the last "
        "layer's and the loss barely moves from the variance of the target.",
        "10-(32x10)-1 sigmoid MLP, PyTorch default init, SGD 0.1, batch 32, diabetes regression; "
        "per-layer grad norms",
        run_vanishing, vanishing_check),
    Scenario(
        "plateau.csv", "plateau", ["plateau"], "saddle_point", None,
        "Deep linear net from a tiny init sits at the saddle at the origin: flat loss with a "
        "tiny gradient for a long stretch, then escapes and drops.",
        "16-32-32-4 linear net (no bias), init N(0, 0.005^2), SGD 0.1, batch 1000, 1500 steps, "
        "linear-teacher regression (8k samples)",
        run_plateau, plateau_check),
    Scenario(
        "oscillation.jsonl", "oscillation", ["oscillation"], "lr_too_high", 4,
        "Plain SGD with a step a few times too large on softmax regression: the loss keeps "
        "swinging with large gradients, no progress, no blow-up.",
        "softmax regression (5 features, 4 classes, make_classification), SGD lr 12 (no momentum), "
        "batch 256",
        run_oscillation, oscillation_check, names=LIGHTNING_NAMES),
    Scenario(
        "overfitting.csv", "overfitting", ["overfitting"], "insufficient_regularization", 10,
        "Big MLP on 60 digits without regularization: training loss goes to ~0 while val_loss "
        "bottoms out and climbs.",
        "64-512-512-10 ReLU MLP, Adam 1e-3, full batch of 60 training digits, 800 steps; val on 500 "
        "every 10",
        run_overfitting, overfitting_check),
    Scenario(
        "stuck_at_chance.csv", "stuck_at_chance", ["stuck_at_chance"], "wrong_loss_function", 10,
        "Softmax applied before CrossEntropyLoss (double softmax) with plain SGD: the loss sits "
        "at ln(10) = 2.303.",
        "64-64-10 ReLU MLP ending in nn.Softmax, nn.CrossEntropyLoss, SGD 0.003, batch 64, 800 steps, digits",
        run_stuck_at_chance, stuck_check),
    Scenario(
        "underfitting.csv", "underfitting", ["underfitting"], "insufficient_capacity", 10,
        "A two-unit hidden layer cannot separate ten digits: the loss converges to a high level, "
        "well below chance, and the gradient dies down.",
        "64-2-10 tanh MLP, full-batch Adam 0.01 on 1400 digits, 2500 steps",
        run_underfitting, underfitting_check),
]


# --------------------------------------------------------------------------- main


def produce(index: int) -> tuple[str, int, list[Fact], float]:
    """Seed, train, write the log and check it (runs in a worker process)."""
    scenario = SCENARIOS[index]
    started = time.perf_counter()
    torch.set_num_threads(1)
    torch.manual_seed(scenario.seed)
    np.random.seed(scenario.seed)
    rows = scenario.make()
    path = HERE / scenario.file
    if scenario.format == "jsonl":
        write_jsonl(path, rows, scenario.names)
    else:
        write_csv(path, rows)
    return scenario.file, len(rows), scenario.check(rows), time.perf_counter() - started


def manifest_entry(s: Scenario) -> dict:
    return {"file": s.file, "format": s.format, "scenario": s.scenario,
            "expected_symptoms": s.symptoms, "expected_top_cause": s.cause,
            "num_classes": s.num_classes, "description": s.description}


def readme(results: dict[str, tuple[int, list[Fact]]]) -> str:
    lines = [
        "# sample_logs",
        "",
        "Small training logs from real torch training on CPU (scikit-learn's bundled data sets or "
        "synthetic data), one per symptom of CONTRACT.md plus two healthy runs. `make_samples.py` "
        "trains the models and writes them, checks that each log really shows its symptom (it "
        "exits 1 otherwise), and writes `manifest.json` (expected symptom and cause ids) and this "
        "file. Regenerate with `python sample_logs/make_samples.py` (under a minute on 2 cores).",
        "",
        "`grad_norm` is the global L2 norm of all gradients before the optimizer step; "
        "`grad_norm/<param>` columns are per-weight norms, input side first. CSV cells are blank "
        "where a signal was not logged that step (val_loss); NaN is written `nan`. The JSONL logs "
        "spell keys as real trainers do (`train/loss`, `gradient_norm`, `learning_rate`, "
        "`eval_loss`; HF-style `loss`, `grad_norm`; Lightning-style `global_step`, `train_loss`, "
        "`lr-SGD`), one object per logged step, NaN as Python's json writes it (`NaN`).",
        "",
        "| file | scenario | what the numbers show | how it was made |",
        "| --- | --- | --- | --- |",
    ]
    for s in SCENARIOS:
        if s.file not in results:
            continue
        n, facts = results[s.file]
        shown = "; ".join(f"{f.label} {f.value:.3g}" for f in facts if f.label != "non-finite cells")
        lines.append(f"| `{s.file}` | {s.scenario} | {n} steps; {shown} | {s.how} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="scenario file stems to (re)make")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    chosen = [i for i, s in enumerate(SCENARIOS) if not args.only or s.file.split(".")[0] in args.only]
    with Pool(args.jobs) as pool:
        done = pool.map(produce, chosen, chunksize=1)
    results = {file: (n, facts) for file, n, facts, _ in done}
    failed = [file for file, (_, facts) in results.items() if not all(f.ok for f in facts)]
    for file, n, facts, seconds in done:
        print(f"{file}: {n} steps, {(HERE / file).stat().st_size / 1024:.0f} KB, {seconds:.1f} s")
        for fact in facts:
            print(f"  {fact}")
    if not args.only:
        manifest = [manifest_entry(s) for s in SCENARIOS]
        (HERE / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (HERE / "README.md").write_text(readme(results))
    if failed:
        sys.stdout.flush()
        print(f"FAILED: {', '.join(failed)} do not show their scenario", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
