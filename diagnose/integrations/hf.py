"""Hugging Face Trainer: append every log the Trainer emits to a JSON Lines file `diagnose`
reads (`loss`, pre-clipping `grad_norm`, `learning_rate`, `eval_loss`, with the step).

    trainer = Trainer(..., callbacks=[DiagnoseCallback("run/metrics.jsonl")])
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback


class DiagnoseCallback(TrainerCallback):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        if state.is_world_process_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        if not state.is_world_process_zero or not logs or "train_runtime" in logs:
            return  # the end-of-training summary is an average, not a step's value
        # json writes a NaN loss as the NaN token, which diagnose reads as NaN.
        row = {"step": state.global_step, **logs}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(row) + "\n")

