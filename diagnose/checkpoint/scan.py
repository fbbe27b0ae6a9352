"""One checkpoint scanned into per-tensor records: statistics, the init scale the weight's
fan-in implies, gradient RMS and next-step size from the optimizer, and the update since the
previous checkpoint. Only statistics are kept; tensors are read once and dropped."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from diagnose.checkpoint.load import Checkpoint
from diagnose.checkpoint.optimizer import OptimizerState, gradient_rms, next_step_rms, read_optimizer
from diagnose.checkpoint.stats import TensorStats, stream_stats

EMBEDDING_HINTS = ("embed", "wte", "wpe", "tok_emb", "pos_emb")
GAIN_LEAVES = ("weight", "gamma", "scale", "g")
PARAMETER_ROLES = ("weight", "embedding", "norm", "bn_weight", "bias", "other")


@dataclass
class TensorRecord:
    name: str
    shape: tuple[int, ...]
    role: str  # weight | embedding | norm | bn_weight | bias | running_var | running_mean | buffer | other
    stats: TensorStats
    init: tuple[float, float] | None = None  # expected init RMS range for a weight's fan-in
    grad_rms: float | None = None  # from the optimizer's moments
    step_ratio: float | None = None  # optimizer's next update RMS / weight RMS
    update_ratio: float | None = None  # |W - W_prev| / |W_prev| per step since the previous checkpoint
    moments_nonfinite: dict[str, int] = field(default_factory=dict)
    in_optimizer: bool = False

    @property
    def layer(self) -> str:
        return self.name.rsplit(".", 1)[0] if "." in self.name else self.name

    @property
    def nonfinite(self) -> int:
        return self.stats.nonfinite + sum(self.moments_nonfinite.values())


@dataclass
class Scan:
    path: Path
    layout: str
    step: int | None
    records: dict[str, TensorRecord]
    optimizer: str | None = None  # adam | sgd | rmsprop | adagrad | unknown
    lr: float | None = None
    optimizer_steps: float | None = None
    matched: bool = True  # optimizer parameters matched to model names
    stateless: int = 0  # optimizer parameters with no moments: they never received a gradient

    def parameters(self) -> list[TensorRecord]:
        return [r for r in self.records.values() if r.role in PARAMETER_ROLES]

    def weights(self) -> list[TensorRecord]:
        """Linear/conv weight matrices in model order (what fan-in and depth speak about)."""
        return [r for r in self.records.values() if r.role == "weight" and r.init is not None]


EXTREMES_WANTED = {"running_var"}


def scan(checkpoint: Checkpoint, previous: Checkpoint | None = None, previous_scan: Scan | None = None) -> Scan:
    """Statistics of every float tensor, with optimizer evidence and updates since `previous`."""
    source = checkpoint.weights
    names = set(source.names())
    records = {}
    for name in (n for n in source.names() if source.is_float(n)):
        kind = role(name, source.shape(name), names)
        # Only BatchNorm's running variances are judged by their extremes.
        stats = stream_stats([(source, name)], extremes=kind in EXTREMES_WANTED)
        records[name] = TensorRecord(name, source.shape(name), kind, stats)
    for record in records.values():
        record.init = init_range(record.shape) if record.role == "weight" else None
    result = Scan(checkpoint.path, checkpoint.layout, checkpoint.step, records)
    if checkpoint.optimizer is not None:
        _add_optimizer(result, read_optimizer(checkpoint.optimizer, source))
    if previous is not None and previous_scan is not None:
        _add_updates(result, checkpoint, previous, previous_scan)
    return result


def role(name: str, shape: tuple[int, ...], names: set[str]) -> str:
    layer, _, leaf = name.rpartition(".")
    if leaf in ("running_var", "running_mean"):
        return leaf
    if leaf == "num_batches_tracked":
        return "buffer"
    if len(shape) >= 2:
        return "embedding" if any(h in name.lower() for h in EMBEDDING_HINTS) else "weight"
    if len(shape) == 1 and leaf in GAIN_LEAVES:
        return "bn_weight" if f"{layer}.running_var" in names else "norm"
    return "bias" if leaf in ("bias", "beta") else "other"


def init_range(shape: tuple[int, ...]) -> tuple[float, float] | None:
    """The weight RMS standard inits give this shape: from PyTorch's default
    (kaiming_uniform a=sqrt(5): 1/sqrt(3 fan_in)) and Xavier sqrt(2/(fan_in+fan_out)) up to
    He sqrt(2/fan_in). Fans as torch computes them: (out, in, *kernel)."""
    receptive = math.prod(shape[2:])
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    if fan_in == 0:
        return None
    candidates = (1 / math.sqrt(3 * fan_in), math.sqrt(2 / (fan_in + fan_out)), math.sqrt(2 / fan_in))
    return min(candidates), max(candidates)


def _add_optimizer(result: Scan, state: OptimizerState) -> None:
    result.optimizer, result.lr, result.matched = state.kind, state.lr, state.matched
    result.stateless = sum(1 for p in state.params.values() if not p.moments)
    steps = [p.step for p in state.params.values() if p.step is not None]
    result.optimizer_steps = max(steps) if steps else None
    for name, param in state.params.items():
        if not param.moments:
            continue  # unmatched (no shape to match by) and nothing to say
        record = result.records.get(name) or result.records.setdefault(
            name, TensorRecord(name, (), "other", TensorStats()))
        record.in_optimizer = True
        record.moments_nonfinite = {m: stream_stats([(state.tensors, key)]).nonfinite
                                    for m, key in param.moments.items() if state.tensors.is_float(key)}
        if any(record.moments_nonfinite.values()):
            continue
        record.grad_rms = gradient_rms(state, param)
        step = next_step_rms(state, param)
        weight_rms = record.stats.rms
        record.step_ratio = step / weight_rms if step is not None and weight_rms > 0 else None


def _add_updates(result: Scan, checkpoint: Checkpoint, previous: Checkpoint, previous_scan: Scan) -> None:
    known = checkpoint.step is not None and previous.step is not None
    per = checkpoint.step - previous.step if known and checkpoint.step > previous.step else 1
    for record in result.parameters():
        before = previous_scan.records.get(record.name)
        if not _comparable(before, record):
            continue
        moved = stream_stats([(previous.weights, record.name), (checkpoint.weights, record.name)], _difference).norm
        base = before.stats.norm
        record.update_ratio = (moved / base if base else math.inf if moved else 0.0) / per


def _comparable(before: TensorRecord | None, after: TensorRecord) -> bool:
    return (before is not None and before.shape == after.shape and bool(after.shape)
            and before.stats.nonfinite == 0 and after.stats.nonfinite == 0)


def _difference(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.subtract(after, before, dtype=np.float64)
