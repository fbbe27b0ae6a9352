"""Write a trace the way different trainers do: CSV with varied column names (blank cell = not
logged this step) or JSON Lines (key absent = not logged; NaN/Infinity tokens), %.6g floats."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bench.train import Trace

# canonical -> spelling, one dict per naming style; the style is picked per run
CSV_STYLES = [
    {"step": "step", "loss": "loss", "grad_norm": "grad_norm", "lr": "lr", "val_loss": "val_loss",
     "accuracy": "accuracy"},
    {"step": "step", "loss": "train_loss", "grad_norm": "gradient_norm", "lr": "learning_rate",
     "val_loss": "eval_loss", "accuracy": "train_acc"},
    {"step": "global_step", "loss": "train/loss", "grad_norm": "total_norm", "lr": "lr",
     "val_loss": "val_loss", "accuracy": "acc"},
    {"step": "iteration", "loss": "loss", "grad_norm": "grad_norm", "lr": "learning_rate",
     "val_loss": "eval_loss", "accuracy": "accuracy"},
]
JSONL_STYLES = [
    {"step": "step", "loss": "train/loss", "grad_norm": "grad_norm", "lr": "lr", "val_loss": "val/loss",
     "accuracy": "train/acc"},
    {"step": "step", "loss": "loss", "grad_norm": "gradient_norm", "lr": "learning_rate",
     "val_loss": "eval_loss", "accuracy": "accuracy"},
    {"step": "global_step", "loss": "train_loss", "grad_norm": "total_norm", "lr": "lr",
     "val_loss": "val_loss", "accuracy": "train_acc"},
]
FORMATS = {"csv": (CSV_STYLES, ".csv"), "jsonl": (JSONL_STYLES, ".jsonl")}


def number(value: float, nan: str, inf: str) -> str:
    if math.isnan(value):
        return nan
    if math.isinf(value):
        return inf if value > 0 else "-" + inf
    return f"{value:.6g}"


def columns(trace: Trace, style: dict) -> list[tuple[str, list[str | None]]]:
    """(header, cells) per column; a cell of None means 'not logged at this step'."""
    cols: list[tuple[str, np.ndarray | list]] = [
        (style["loss"], trace.loss), (style["grad_norm"], trace.grad_norm), (style["lr"], trace.lr)]
    if len(trace.val_steps):
        val = [None] * len(trace.steps)
        for row, value in zip(np.searchsorted(trace.steps, trace.val_steps), trace.val_loss):
            val[row] = value
        cols.append((style["val_loss"], val))
    if trace.accuracy is not None:
        cols.append((style["accuracy"], trace.accuracy))
    cols += [(f"grad_norm/{name}", values) for name, values in trace.layers.items()]
    return cols


def write(trace: Trace, path: Path, fmt: str, style_index: int) -> Path:
    styles, suffix = FORMATS[fmt]
    style = styles[style_index % len(styles)]
    path = path.with_suffix(suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    (_write_csv if fmt == "csv" else _write_jsonl)(trace, path, style)
    return path


def _write_csv(trace: Trace, path: Path, style: dict) -> None:
    cols = columns(trace, style)
    with open(path, "w") as out:
        out.write(",".join([style["step"]] + [name for name, _ in cols]) + "\n")
        for row, step in enumerate(trace.steps):
            cells = [str(int(step))] + ["" if c[row] is None else number(float(c[row]), "nan", "inf")
                                        for _, c in cols]
            out.write(",".join(cells) + "\n")


def _write_jsonl(trace: Trace, path: Path, style: dict) -> None:
    cols = columns(trace, style)
    with open(path, "w") as out:
        for row, step in enumerate(trace.steps):
            items = [f'"{style["step"]}": {int(step)}'] + [
                f'"{name}": {number(float(c[row]), "NaN", "Infinity")}' for name, c in cols if c[row] is not None]
            out.write("{" + ", ".join(items) + "}\n")
