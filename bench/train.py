"""Really train one small model from a run spec and record what a trainer would log.

Logged per row: step, loss, global grad L2 norm (before clipping), lr, batch accuracy
(classification), per-layer weight grad norms (if asked); val loss every `val_every` steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from bench import data as datasets
from bench import models, schedules


@dataclass
class Trace:
    steps: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    lr: np.ndarray
    accuracy: np.ndarray | None
    val_steps: np.ndarray
    val_loss: np.ndarray
    layers: dict[str, np.ndarray] = field(default_factory=dict)  # input layer first
    num_classes: int | None = None


def run(spec: dict) -> Trace:
    """Train as `spec` says (seeded, one thread) and return the logged trace."""
    torch.set_num_threads(1)
    torch.manual_seed(spec["seed"])
    d = datasets.load(spec["data"]["name"], spec["seed"], **{k: v for k, v in spec["data"].items() if k != "name"})
    out_features = d.num_classes or 1
    model = models.build(spec["model"], d.in_features, out_features)
    optimizer = _optimizer(spec["optimizer"], model, spec["lr"]["peak"])
    return _loop(spec, d, model, optimizer)


def _optimizer(spec: dict, model: nn.Module, lr: float) -> torch.optim.Optimizer:
    name, decay = spec["name"], spec.get("weight_decay", 0.0)
    if name == "adam":  # fused: the same update, a third less time per step on CPU
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=decay, fused=True)
    momentum = spec.get("momentum", 0.9) if name == "momentum" else 0.0
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=decay)


def loss_fn(kind: str, out: torch.Tensor, y: torch.Tensor, k: int | None) -> torch.Tensor:
    if kind == "mse":
        return F.mse_loss(out.squeeze(-1), y)
    if kind == "mse_onehot":  # the wrong-loss fault: MSE between class scores and one-hot targets
        return F.mse_loss(torch.softmax(out, -1), F.one_hot(y, k).float())
    if kind == "mse_logits":
        return F.mse_loss(out, F.one_hot(y, k).float())
    if kind == "manual_log_softmax":  # numerically unstable: log(0) once a probability underflows
        return -(F.one_hot(y, k).float() * torch.log(torch.softmax(out, -1))).sum(-1).mean()
    return F.cross_entropy(out, y)


class _Batches:
    """Minibatch indices from a fresh permutation each epoch."""

    def __init__(self, n: int, batch: int, seed: int) -> None:
        self.n, self.batch = n, min(batch, n)
        self.generator = torch.Generator().manual_seed(seed)
        self.order, self.pos = torch.randperm(n, generator=self.generator), 0

    def next(self) -> torch.Tensor:
        if self.pos + self.batch > self.n:
            self.order, self.pos = torch.randperm(self.n, generator=self.generator), 0
        idx = self.order[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return idx


def _loop(spec: dict, d: datasets.Data, model: nn.Module, optimizer: torch.optim.Optimizer) -> Trace:
    steps, log_every, val_every = spec["steps"], spec.get("log_every", 1), spec.get("val_every")
    base = spec.get("step_base", 0)
    params = [p for p in model.parameters()]
    layer_params = _layer_params(model) if spec.get("layer_norms") else []
    rec = _Recorder([name for name, _ in layer_params], d.num_classes is not None)
    batches = _Batches(len(d.x_train), spec["batch"], spec["seed"])
    stop_at = None
    model.train()
    for step in range(steps):
        lr = schedules.lr_at(step, steps, spec["lr"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        idx = batches.next()
        x, y = _inject(spec.get("inject", {}), step, d.x_train[idx], d.y_train[idx])
        out = model(x)
        loss = loss_fn(spec["loss"], out, y, d.num_classes)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        logging = step % log_every == 0
        layer_norms = [float(p.grad.norm()) for _, p in layer_params] if logging else []
        total = _grad_norm(params, spec.get("clip"))
        optimizer.step()
        if logging:
            rec.row(step + base, loss, total, lr, out, y, layer_norms)
            if val_every and step % val_every == 0:
                rec.val(step + base, _val_loss(spec["loss"], model, d))
            if stop_at is None and not np.isfinite(rec.loss[-1]) and spec.get("stop_after_nonfinite") is not None:
                stop_at = len(rec.loss) + spec["stop_after_nonfinite"]
            if stop_at is not None and len(rec.loss) >= stop_at:
                break
    return rec.trace(d.num_classes)


def _inject(inject: dict, step: int, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Data faults: a dirty sample (NaN/Inf) at `nan_at`; a corrupted-but-finite batch
    scaled by `spike_scale` at `spike_at` (the benign spike of healthy runs)."""
    if inject.get("nan_at") == step:
        x = x.clone()
        x[0].view(-1)[: inject.get("nan_count", 1)] = float(inject.get("nan_value", "nan"))
    if inject.get("spike_at") == step:
        x = x * inject.get("spike_scale", 3.0)
    return x, y


def _grad_norm(params: list[torch.Tensor], clip: float | None) -> torch.Tensor:
    """Global L2 norm of all gradients, measured before clipping (clips if asked)."""
    if clip:
        return nn.utils.clip_grad_norm_(params, clip)
    grads = [p.grad for p in params if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def _layer_params(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Weight matrices in definition order (input layer first)."""
    return [(name, p) for name, p in model.named_parameters() if p.dim() > 1]


@torch.no_grad()
def _val_loss(kind: str, model: nn.Module, d: datasets.Data) -> float:
    model.eval()
    value = float(loss_fn(kind, model(d.x_val), d.y_val, d.num_classes))
    model.train()
    return value


class _Recorder:
    def __init__(self, layer_names: list[str], classification: bool) -> None:
        self.steps: list[int] = []
        self.loss: list[float] = []
        self.grad: list[float] = []
        self.lr: list[float] = []
        self.acc: list[float] | None = [] if classification else None
        self.val_steps: list[int] = []
        self.val_loss: list[float] = []
        self.layers: dict[str, list[float]] = {name: [] for name in layer_names}

    def row(self, step: int, loss: torch.Tensor, total: torch.Tensor, lr: float, out: torch.Tensor,
            y: torch.Tensor, layer_norms: list[float]) -> None:
        self.steps.append(step)
        self.loss.append(float(loss.detach()))
        self.grad.append(float(total))
        self.lr.append(lr)
        if self.acc is not None:
            self.acc.append(float((out.argmax(-1) == y).float().mean()))
        for values, norm in zip(self.layers.values(), layer_norms):
            values.append(norm)

    def val(self, step: int, value: float) -> None:
        self.val_steps.append(step)
        self.val_loss.append(value)

    def trace(self, num_classes: int | None) -> Trace:
        arr = np.asarray
        return Trace(
            arr(self.steps, dtype=np.int64), arr(self.loss), arr(self.grad), arr(self.lr),
            None if self.acc is None else arr(self.acc), arr(self.val_steps, dtype=np.int64),
            arr(self.val_loss), {k: arr(v) for k, v in self.layers.items()}, num_classes,
        )
