"""A training-loop logger that writes what `diagnose` reads (needs torch; never imported by
log diagnosis).

    logger = GradientLogger(model, "run/metrics.csv")
    for batch in loader:
        loss = loss_fn(model(x), y)
        loss.backward()
        logger.step(loss, optimizer)   # after backward(), before clipping and optimizer.step()
        ...

Each row: step, loss, the global L2 gradient norm and per-layer norms (before any clipping),
the learning rate, and how many gradient tensors hold NaN/Inf.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import IO

import torch


class GradientLogger:
    """Record loss, gradient norms and LR per step to a CSV file."""

    def __init__(self, model: torch.nn.Module, path: str | Path, *, every: int = 1,
                 per_layer: bool = True, flush_every: int = 100) -> None:
        self.named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.path = Path(path)
        self.every = every
        self.per_layer = per_layer
        self.flush_every = flush_every
        self.global_step = 0
        self._handle: IO[str] | None = None
        self._writer: csv.writer | None = None
        self._rows = 0

    def step(self, loss: torch.Tensor | float, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Log one optimisation step (call it once per step, after backward())."""
        step = self.global_step
        self.global_step += 1
        if step % self.every == 0:
            self.write(step, loss, optimizer, self.layer_norms())

    def write(self, step: int, loss: torch.Tensor | float, optimizer: torch.optim.Optimizer | None,
              norms: dict[str, float]) -> None:
        """One row from norms measured earlier (hooks that see gradients before the loss)."""
        finite_norms = [v for v in norms.values() if math.isfinite(v)]
        row = {
            "step": step,
            "loss": float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss),
            "grad_norm": math.sqrt(sum(v * v for v in norms.values())) if norms else math.nan,
            "lr": optimizer.param_groups[0]["lr"] if optimizer is not None else math.nan,
            "nonfinite_grads": len(norms) - len(finite_norms),
        }
        if self.per_layer:
            row.update({f"grad_norm/{name}": value for name, value in norms.items()})
        self._write(row)

    def layer_norms(self) -> dict[str, float]:
        return gradient_norms(self.named)

    def _write(self, row: dict) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "w", newline="")
            self._columns = list(row)
            self._writer = csv.writer(self._handle)
            self._writer.writerow(self._columns)
        self._writer.writerow([_cell(row.get(c)) for c in self._columns])
        self._rows += 1
        if self._rows % self.flush_every == 0:
            self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "GradientLogger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def gradient_norms(named: list[tuple[str, torch.nn.Parameter]]) -> dict[str, float]:
    """L2 norm of each parameter's current gradient, one fused kernel for all of them."""
    with_grad = [(n, p.grad) for n, p in named if p.grad is not None]
    if not with_grad:
        return {}
    norms = torch._foreach_norm([g.detach() for _, g in with_grad])
    values = torch.stack(norms).double().tolist()
    return {name: value for (name, _), value in zip(with_grad, values)}


def _cell(value: float | int | None) -> str:
    """Empty for a layer without a gradient this step; nan/inf written as such."""
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)
