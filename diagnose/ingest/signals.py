"""Map the signal names real trainers write to the canonical names detectors read."""

from __future__ import annotations

import re

# Canonical name -> the spellings seen in real logs (compared after `name_key` folding).
ALIASES: dict[str, tuple[str, ...]] = {
    "loss": (
        "loss", "train_loss", "train/loss", "training_loss", "loss/train", "train/lm_loss",
        "lm loss", "lm_loss", "train_loss_step", "loss_step", "trn_loss", "tr_loss",
        "train/loss_step", "total_loss", "train/total_loss", "batch_loss", "loss_train",
    ),
    "val_loss": (
        "val_loss", "valid_loss", "validation_loss", "eval_loss", "eval/loss", "val/loss",
        "loss/val", "loss/validation", "valid/loss", "test_loss", "val_loss_epoch",
        "validation/loss", "dev_loss", "loss_val",
    ),
    "grad_norm": (
        "grad_norm", "gradient_norm", "total_norm", "gnorm", "grad norm", "grad_l2_norm",
        "train/grad_norm", "global_grad_norm", "gradnorm", "grads/norm", "norm/grad",
        "grad_norm_total", "gradient/norm",
    ),
    "lr": (
        "lr", "learning_rate", "learning rate", "train/lr", "train/learning_rate", "lr-adam",
        "lr-adamw", "lr-sgd", "lr_0", "lr-0", "optimizer/lr", "lr/group0", "lr-adam/pg1",
    ),
    "accuracy": ("accuracy", "acc", "train_acc", "train_accuracy", "train/acc", "train/accuracy"),
    "val_accuracy": (
        "val_accuracy", "val_acc", "eval_accuracy", "eval/accuracy", "valid_acc", "val/acc",
        "validation_accuracy", "test_acc", "test_accuracy",
    ),
    "loss_scale": ("loss_scale", "loss scale", "scaler/scale", "grad_scale", "amp/loss_scale"),
    "skipped_steps": ("skipped", "skipped_steps", "number of skipped iterations", "skipped_iterations"),
    "nan_steps": ("nan_steps", "number of nan iterations", "nan_iterations"),
    "epoch": ("epoch",),
}

STEP_NAMES = ("step", "steps", "global_step", "iteration", "iter", "it", "update", "num_updates",
              "trainer/global_step", "_step", "train/global_step")

LAYER_PREFIXES = ("grad_norm/", "grad_norm_", "grad_norm.", "gradient_norm/", "grad_norms/",
                  "grads/", "grad/", "gradients/")

_SUFFIX = re.compile(r"[ _/.-](step|epoch|mean|avg)$")


def name_key(name: str) -> str:
    """How a log's column or tag name is compared with the names we know."""
    return name.strip().lower()


_LOOKUP = {name_key(alias): canonical for canonical, aliases in ALIASES.items() for alias in aliases}
_STEP_LOOKUP = {name_key(n) for n in STEP_NAMES}


def canonical_name(raw: str) -> str | None:
    """The canonical signal a raw column name stands for, or None if it is not one we use.

    Per-layer gradient norms keep the parameter name: `grad_norm/layers.0.weight`.
    """
    key = name_key(raw)
    if key in _LOOKUP:
        return _LOOKUP[key]
    layer = _layer_name(raw)
    if layer:
        return f"grad_norm/{layer}"
    stripped = _SUFFIX.sub("", key)
    if stripped != key and stripped in _LOOKUP and _LOOKUP[stripped] not in ("epoch",):
        return _LOOKUP[stripped]
    return None


def _layer_name(raw: str) -> str | None:
    key = raw.strip()
    if any(mark in key for mark in ('"', "{", "}", ": ")):
        return None  # a fragment of JSON or of a text line, not a parameter name
    for prefix in LAYER_PREFIXES:
        if key.lower().startswith(prefix) and len(key) > len(prefix):
            rest = key[len(prefix):]
            if name_key(rest) in ("total", "global", "all", "norm"):
                return None
            return rest
    return None


def is_step_name(raw: str) -> bool:
    return name_key(raw) in _STEP_LOOKUP


def pick_step_column(columns: list[str]) -> str | None:
    """The column that holds the step, by the names trainers use, in order of preference."""
    by_key = {name_key(c): c for c in columns}
    for name in STEP_NAMES:
        if name_key(name) in by_key:
            return by_key[name_key(name)]
    return None


def canonical_columns(columns: list[str]) -> dict[str, str]:
    """raw -> canonical for the columns we use; the first raw column wins a canonical name."""
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for raw in sorted(columns, key=_preference):
        name = canonical_name(raw)
        if name and name not in taken:
            chosen[raw] = name
            taken.add(name)
    return {raw: chosen[raw] for raw in columns if raw in chosen}


def _preference(raw: str) -> int:
    """Exact aliases beat suffixed ones (`train_loss` over `train_loss_epoch`)."""
    return 0 if name_key(raw) in _LOOKUP else 1
