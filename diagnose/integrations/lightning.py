"""PyTorch Lightning: log loss, pre-clipping gradient norms and LR for `diagnose`.

    trainer = lightning.Trainer(callbacks=[DiagnoseCallback("run/metrics.csv")])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L

from diagnose.torch import GradientLogger


class DiagnoseCallback(L.Callback):
    """Lightning calls on_before_optimizer_step before it clips: the norms are unclipped."""

    def __init__(self, path: str | Path, per_layer: bool = True) -> None:
        self.path = Path(path)
        self.per_layer = per_layer
        self.logger: GradientLogger | None = None
        self._norms: dict[str, float] = {}
        self._optimizer = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.logger = GradientLogger(pl_module, self.path, per_layer=self.per_layer)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self._norms = self.logger.layer_norms()
        self._optimizer = optimizer

    def on_train_batch_end(self, trainer, pl_module, outputs: Any, batch, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None and self.logger is not None:
            self.logger.write(trainer.global_step, loss, self._optimizer, self._norms)

    def on_fit_end(self, trainer, pl_module) -> None:
        if self.logger is not None:
            self.logger.close()
