"""Hugging Face Trainer: append every log the Trainer emits to a JSON Lines file `diagnose`
reads (`loss`, pre-clipping `grad_norm`, `learning_rate`, `eval_loss`, with the step), plus the
gradient norm of each parameter before clipping (`grad_norm/<name>`) at each logged step.

    trainer = Trainer(..., callbacks=[DiagnoseCallback("run/metrics.jsonl")])

The Trainer replaces a NaN/Inf loss by the running average in its logs unless
`logging_nan_inf_filter=False`; the gradient norms still show the blow-up.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from transformers import TrainerCallback

from diagnose.torch import gradient_norms


class DiagnoseCallback(TrainerCallback):
    def __init__(self, path: str | Path, per_layer: bool = True) -> None:
        self.path = Path(path)
        self.per_layer = per_layer
        self._parameters: list = []
        self._layer_norms: dict[str, float] = {}

    def on_train_begin(self, args, state, control, model=None, **kwargs) -> None:
        if state.is_world_process_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")
        if self.per_layer and model is not None:
            self._parameters = [(n, p) for n, p in model.named_parameters() if p.requires_grad]

    def on_pre_optimizer_step(self, args, state, control, **kwargs) -> None:
        # The Trainer calls this after clipping: unclipped_norms undoes the clip's one factor.
        if self._parameters:
            self._layer_norms = gradient_norms(self._parameters)

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        if not state.is_world_process_zero or not logs or "train_runtime" in logs:
            return  # the end-of-training summary is an average, not a step's value
        row = {"step": state.global_step, **logs}
        if "grad_norm" in logs and self._layer_norms:
            row.update({f"grad_norm/{name}": norm
                        for name, norm in unclipped_norms(self._layer_norms, logs["grad_norm"]).items()})
        # json writes a NaN as the NaN token, which diagnose reads as NaN.
        with open(self.path, "a") as handle:
            handle.write(json.dumps(row) + "\n")


def unclipped_norms(clipped: dict[str, float], total_before: float) -> dict[str, float]:
    """Clipping scales every gradient by one factor, so the global norm logged before clipping
    over the global norm left after it restores each parameter's norm before clipping."""
    total_after = math.sqrt(sum(v * v for v in clipped.values()))
    factor = total_before / total_after if math.isfinite(total_before) and 0 < total_after < math.inf else 1.0
    return {name: norm * factor for name, norm in clipped.items()}
