"""The optimizer state as evidence about gradients, matched to the model's parameter names.

Adam keeps exp_avg_sq, a running mean of g^2: sqrt(mean(exp_avg_sq / (1 - beta2^t))) is the
parameter's gradient RMS over the last ~1/(1-beta2) steps. SGD's momentum buffer settles at
g (1 - dampening) / (1 - momentum) for a steady gradient, so it gives the mean gradient.
RMSprop and Adagrad keep g^2 averages and sums. The state also fixes the next update, so its
size relative to the weight says whether steps are sane (~1e-3) without a second checkpoint.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from diagnose.checkpoint.layout import number
from diagnose.checkpoint.stats import stream_stats
from diagnose.checkpoint.tensors import TensorSource, TorchTensors

SECOND_MOMENTS = {"exp_avg_sq": "adam", "square_avg": "rmsprop", "sum": "adagrad"}
BUFFER_LEAVES = ("running_mean", "running_var", "num_batches_tracked")


@dataclass
class ParamState:
    name: str  # the model tensor it belongs to, or "optimizer param <i>" when unmatched
    moments: dict[str, str]  # moment name -> key in OptimizerState.tensors
    step: float | None
    group: Mapping[str, Any]

    @property
    def kind(self) -> str:
        found = [kind for moment, kind in SECOND_MOMENTS.items() if moment in self.moments]
        return found[0] if found else ("sgd" if "momentum_buffer" in self.moments else "unknown")


@dataclass
class OptimizerState:
    params: dict[str, ParamState]  # by model tensor name
    tensors: TorchTensors
    matched: bool  # whether the parameters could be matched to model names

    @property
    def kind(self) -> str:
        kinds = [p.kind for p in self.params.values() if p.kind != "unknown"]
        return kinds[0] if kinds else "unknown"

    @property
    def lr(self) -> float | None:
        rates = [number(p.group.get("lr")) for p in self.params.values()]
        return max((r for r in rates if r is not None), default=None)


def read_optimizer(state_dict: Mapping, weights: TensorSource) -> OptimizerState:
    """Per-parameter moments of a torch optimizer state dict, named after the model's tensors."""
    tensors: dict[str, Any] = {}
    raw: list[tuple[int, dict[str, str], float | None, Mapping]] = []
    for group in state_dict.get("param_groups", []):
        for index in group.get("params", []):
            state = state_dict["state"].get(index, {})
            moments = {}
            for moment, value in state.items():
                if moment != "step" and hasattr(value, "is_floating_point"):
                    tensors[f"{index}.{moment}"] = value
                    moments[moment] = f"{index}.{moment}"
            raw.append((index, moments, number(state.get("step")), group))
    source = TorchTensors(tensors)
    shapes = {index: source.shape(next(iter(moments.values()))) for index, moments, _, _ in raw if moments}
    names = _match_names(state_dict.get("param_groups", []), shapes, len(raw), weights)
    params = {}
    for index, moments, step, group in raw:
        name = names.get(index, f"optimizer param {index}")
        params[name] = ParamState(name, moments, step, group)
    return OptimizerState(params, source, all(index in names for index in shapes))


def gradient_rms(state: OptimizerState, param: ParamState) -> float | None:
    """RMS of the parameter's recent gradients, from its moments (None if they hold none)."""
    t, group, m = param.step or 0.0, param.group, param.moments
    if param.kind == "adam":
        return _rms_sqrt(state, m["exp_avg_sq"]) / math.sqrt(_bias(group.get("betas", (0.9, 0.999))[1], t))
    if param.kind == "rmsprop":
        return _rms_sqrt(state, m["square_avg"]) / math.sqrt(_bias(group.get("alpha", 0.99), t))
    if param.kind == "adagrad":
        return _rms_sqrt(state, m["sum"]) / math.sqrt(max(t, 1.0))
    if param.kind == "sgd":
        momentum, dampening = number(group.get("momentum")) or 0.0, number(group.get("dampening")) or 0.0
        rms = stream_stats([(state.tensors, m["momentum_buffer"])]).rms
        return rms * (1 - momentum) / (1 - dampening) if dampening < 1 else None
    return None


def next_step_rms(state: OptimizerState, param: ParamState) -> float | None:
    """RMS of the update the optimizer would apply next (weight decay aside)."""
    lr, group, m = number(param.group.get("lr")), param.group, param.moments
    if lr is None:
        return None
    if param.kind == "adam" and "exp_avg" in m:
        beta1, beta2 = group.get("betas", (0.9, 0.999))
        c1, c2, eps = _bias(beta1, param.step or 0.0), _bias(beta2, param.step or 0.0), group.get("eps", 1e-8)

        def adam(m1: np.ndarray, m2: np.ndarray) -> np.ndarray:
            return (m1 / c1) / (np.sqrt(m2 / c2) + eps)

        return lr * stream_stats([(state.tensors, m["exp_avg"]), (state.tensors, m["exp_avg_sq"])], adam).rms
    if "momentum_buffer" in m:
        return lr * stream_stats([(state.tensors, m["momentum_buffer"])]).rms
    return None


def _match_names(groups: list, shapes: dict[int, tuple[int, ...]], count: int,
                 weights: TensorSource) -> dict[int, str]:
    """Optimizer indices -> model tensor names. Newer torch saves `param_names`; otherwise each
    index takes the first unused model parameter of its moments' shape, in the model's name
    order (same-shaped tensors of one layer may swap when that order is alphabetical)."""
    named = {i: n for g in groups for i, n in zip(g.get("params", []), g.get("param_names", []))}
    if named and len(named) == count and set(named.values()) <= set(weights.names()):
        return named
    free: dict[tuple[int, ...], deque[str]] = {}
    for name in weights.names():
        if weights.is_float(name) and name.rsplit(".", 1)[-1] not in BUFFER_LEAVES:
            free.setdefault(weights.shape(name), deque()).append(name)
    names: dict[int, str] = {}
    for group in groups:
        for index in group.get("params", []):
            candidates = free.get(shapes.get(index))
            if candidates:
                names[index] = candidates.popleft()
    return names


def _rms_sqrt(state: OptimizerState, key: str) -> float:
    """sqrt(mean(v)) for a tensor of squares v, as the RMS of sqrt(v)."""
    return stream_stats([(state.tensors, key)], np.sqrt).rms


def _bias(beta: float, t: float) -> float:
    """Adam's bias correction 1 - beta^t (1 when the step count is unknown)."""
    return 1.0 - float(beta) ** t if t > 0 else 1.0
