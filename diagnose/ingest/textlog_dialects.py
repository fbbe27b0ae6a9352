"""The print formats of common trainers: one small line parser per dialect.

A parser takes one line (stripped, the last carriage-return segment of it) and the shared
`Context`, and returns `(step, {signal: value})` or None, with canonical signal names
(`signals.canonical_name`). Dialects whose lines name no step (HF Trainer dicts,
DeepSpeed overflows, validation summaries) take it from what earlier lines said.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from diagnose.ingest.numbers import as_float
from diagnose.ingest.signals import STEP_NAMES, canonical_name, is_step_name

# A number in any float syntax (1.2E+00, .5, nan, -inf), also inside `tensor(...)`.
NUM = r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|(?i:nan|inf(?:inity)?)\b)"
VALUE = rf"(?:tensor\(\s*)?({NUM})"

Row = tuple[int, dict[str, float]]


@dataclass
class Context:
    """What earlier lines said that later lines need."""

    last_step: int | None = None  # the step of the latest row, any dialect
    epoch: int = 0  # Keras and MNIST: the epoch the following lines belong to
    epoch_length: int | None = None  # word_language_model batches, MNIST samples per epoch
    logging_steps: int | None = None  # HF Trainer, when its arguments were printed
    hf_rows: int = 0
    row_order_steps: bool = False  # some steps are row numbers: the log printed none
    skipped: float = 0.0  # DeepSpeed: skipped (overflowed) steps so far


@dataclass(frozen=True)
class Dialect:
    name: str
    parse: Callable[[str, Context], Row | None]


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_UNIT_NUMBER = _re(rf"\[?{VALUE}[a-z%/]*[)\]]*")


def number(text: str) -> float | None:
    """A printed value: `2.31`, `1.2E+00`, `nan`, `35.2ms`, `1.2%`, `[0.001]`, `tensor(2.31)`."""
    try:
        return float(text)
    except ValueError:
        match = _UNIT_NUMBER.fullmatch(text.strip())
        return float(match[1]) if match else None


@lru_cache(maxsize=4096)
def signal_name(key: str) -> str | None:
    """The canonical signal a printed key stands for ("lm loss", " Learning Rate ")."""
    return canonical_name(" ".join(key.lower().split()))


def bar_fields(text: str, names: Mapping[str, str] | None = None) -> dict[str, float]:
    """`key: value | key value | ...` -> {signal: value} for the keys that are signals.

    `names` maps a dialect's own keys (build-nanogpt's `norm`) to signals; without it,
    keys are mapped by canonical_name."""
    values: dict[str, float] = {}
    for part in text.split("|"):
        key, colon, value = part.rpartition(":")
        if not colon:
            key, _, value = part.strip().rpartition(" ")
        signal = names.get(key.strip().lower()) if names is not None else signal_name(key)
        if signal and signal not in values and (parsed := number(value)) is not None:
            values[signal] = parsed
    return values


def _known(pairs: Iterable[tuple[str, Any]], convert: Callable[[Any], float | None]) -> dict[str, float]:
    """{signal: value} for the pairs whose key is a signal; the first spelling wins."""
    values: dict[str, float] = {}
    for key, value in pairs:
        signal = signal_name(key)
        if signal and signal not in values and (parsed := convert(value)) is not None:
            values[signal] = parsed
    return values




# nanoGPT ------------------------------------------------------------------------------
_NANO_ITER = _re(rf"iter\s+(\d+):\s*loss\s+{VALUE}")
_NANO_EVAL = _re(rf"step\s+(\d+):\s*train loss\s+{VALUE},\s*val loss\s+{VALUE}")


def nanogpt(line: str, ctx: Context) -> Row | None:
    if match := _NANO_ITER.match(line):
        return int(match[1]), {"loss": float(match[2])}
    if match := _NANO_EVAL.match(line):
        return int(match[1]), {"loss": float(match[2]), "val_loss": float(match[3])}
    return None


# build-nanogpt: the stdout line, and the `{step} train|val {loss}` lines of its log.txt --
_BUILD = _re(r"step\s+(\d+)\s*\|(.*)")
_BUILD_FILE = _re(rf"(\d+) (train|val) {VALUE}$")
BUILD_NAMES = {"loss": "loss", "norm": "grad_norm", "lr": "lr"}


def build_nanogpt(line: str, ctx: Context) -> Row | None:
    if match := _BUILD.match(line):
        values = bar_fields(match[2], BUILD_NAMES)
        return (int(match[1]), values) if "loss" in values else None
    if match := _BUILD_FILE.match(line):
        return int(match[1]), {"loss" if match[2].lower() == "train" else "val_loss": float(match[3])}
    return None


# Megatron-LM --------------------------------------------------------------------------
# Searched, not matched (lines start with timestamps): case-sensitive, as Megatron prints
# them, because a case-insensitive search costs ten times more on every line of chatter.
_MEGATRON = re.compile(r"\biteration\s+(\d+)\s*/\s*\d+\s*\|(.*)")
_MEGATRON_VAL = re.compile(
    rf"validation loss at iteration\s+(\d+)\b.*?\|\s*(?:lm loss value|LM loss):\s*{VALUE}")


def megatron(line: str, ctx: Context) -> Row | None:
    if "iteration" not in line:
        return None
    if match := _MEGATRON.search(line):
        values = bar_fields(match[2])
        return (int(match[1]), values) if values else None
    if match := _MEGATRON_VAL.search(line):
        return int(match[1]), {"val_loss": float(match[2])}
    return None


# DeepSpeed ----------------------------------------------------------------------------
_DS_STEP = re.compile(rf"\bstep=(\d+),\s*skipped=(\d+),\s*lr=\[\s*{VALUE}")
# fp16 names the scales; bf16 and fp32 overflows only skip the step.
_DS_OVERFLOW = _re(
    rf"overflow!.*?skipping step(?:.*?attempted loss scale:\s*{VALUE},\s*reducing to\s*{VALUE})?")


def deepspeed(line: str, ctx: Context) -> Row | None:
    if "step=" in line and (match := _DS_STEP.search(line)):
        ctx.skipped = float(match[2])
        return int(match[1]), {"skipped_steps": ctx.skipped, "lr": float(match[3])}
    if ("OVERFLOW!" in line or "overflow!" in line) and (match := _DS_OVERFLOW.search(line)):
        # The overflow line names no step: it belongs to the latest one the log printed.
        ctx.skipped += 1
        values = {"skipped_steps": ctx.skipped}
        if match[2] is not None:
            values["loss_scale"] = float(match[2])
        return ctx.last_step or 0, values
    return None


# fairseq JSON progress lines -----------------------------------------------------------
_FAIRSEQ = re.compile(r"\|\s*(train_inner|valid)\s*\|\s*(\{.*\})\s*$")


def fairseq(line: str, ctx: Context) -> Row | None:
    match = _FAIRSEQ.search(line) if '{"' in line else None
    if not match:
        return None
    try:
        record = json.loads(match[2])
    except ValueError:
        return None
    prefix = "valid_" if match[1].lower() == "valid" else ""
    step = as_float(record.get(f"{prefix}num_updates")) if isinstance(record, dict) else None
    if step is None or not math.isfinite(step):
        return None
    return int(step), _known(record.items(), as_float)


# Hugging Face Trainer stdout dicts -------------------------------------------------------
_HF_DICT = re.compile(r"\{'[^']+':.*\}")
_HF_PAIR = _re(rf"'([^']+)':\s*'?{VALUE}")
_LOGGING_STEPS = re.compile(r"\blogging_steps\s*[=:]\s*(\d+)")
HF_SUMMARY_KEYS = {"train_runtime", "train_samples_per_second", "total_flos"}


def hf_stdout(line: str, ctx: Context) -> Row | None:
    match = _HF_DICT.search(line) if "{'" in line else None
    if not match:
        if "logging_steps" in line and (setting := _LOGGING_STEPS.search(line)):
            ctx.logging_steps = int(setting[1])
        return None
    pairs = dict(_HF_PAIR.findall(match[0]))
    values = _known(pairs.items(), float)
    if HF_SUMMARY_KEYS & pairs.keys() or not set(values) - {"epoch"}:
        return None  # the end-of-training summary averages the run: not a step's value
    if any(key.startswith("eval_") for key in pairs):
        return ctx.last_step or 0, values
    ctx.hf_rows += 1
    ctx.row_order_steps |= ctx.logging_steps is None
    return ctx.hf_rows * (ctx.logging_steps or 1), values


# PyTorch examples: word_language_model and mnist ------------------------------------------
_WLM = _re(r"\|\s*epoch\s+(\d+)\s*\|\s*(\d+)\s*/\s*(\d+)\s+batches\s*\|(.*)")
_WLM_END = _re(rf"\|\s*end of epoch\s+(\d+)\s*\|.*?\|\s*valid loss\s+{VALUE}")


def word_language_model(line: str, ctx: Context) -> Row | None:
    if match := _WLM.match(line):
        epoch, batch, ctx.epoch_length = int(match[1]), int(match[2]), int(match[3])
        values = bar_fields(match[4])
        return ((epoch - 1) * ctx.epoch_length + batch, values) if values else None
    if match := _WLM_END.match(line):
        epoch = int(match[1])
        step = epoch * ctx.epoch_length if ctx.epoch_length else ctx.last_step or 0
        return step, {"val_loss": float(match[2])}
    return None


_MNIST = _re(rf"train epoch:\s*(\d+)\s*\[\s*(\d+)\s*/\s*(\d+)[^\]]*\]\s*loss:\s*{VALUE}")
_MNIST_TEST = _re(rf"test set: average loss:\s*{VALUE}")


def mnist(line: str, ctx: Context) -> Row | None:
    """Steps count samples, as the log does: (epoch - 1) * dataset size + samples seen."""
    if match := _MNIST.match(line):
        ctx.epoch, seen, ctx.epoch_length = int(match[1]), int(match[2]), int(match[3])
        return (ctx.epoch - 1) * ctx.epoch_length + seen, {"loss": float(match[4])}
    if match := _MNIST_TEST.match(line):
        step = ctx.epoch * ctx.epoch_length if ctx.epoch_length else ctx.last_step or 0
        return step, {"val_loss": float(match[1])}
    return None


# Keras console (model.fit verbose=1/2): the epoch-end line of each `Epoch N/M` -------------
_KERAS_EPOCH = _re(r"epoch\s+(\d+)\s*/\s*\d+$")
_KERAS_END = _re(r"(\d+)/(\d+)\s.*\s-\s")
_KERAS_PAIR = _re(rf"\s-\s+([a-z_][\w/]*):\s*{VALUE}")


def keras(line: str, ctx: Context) -> Row | None:
    if match := _KERAS_EPOCH.match(line):
        ctx.epoch = int(match[1])
        return None
    match = _KERAS_END.match(line)
    if not match or match[1] != match[2]:
        return None  # a progress update inside the epoch: running averages
    values = _known(_KERAS_PAIR.findall(line), float)
    return (ctx.epoch, values) if values else None


# Generic `key=value`, `key: value`, `key value` lines with a step ------------------------
_NOT_NUMBER_WORD = r"(?!(?:nan|inf(?:inity)?)\b)"
_KEY = rf"{_NOT_NUMBER_WORD}[a-z_][\w./-]*"
_PAIR = _re(rf"(?<![\w./-])({_KEY}(?: {_KEY})*)\s*(?:[:=]\s*|\s+)\[?{VALUE}"
            r"(?:%|[a-z]{1,3}(?:/[a-z]+)?)?(?![\w.])")
_STEP_HINT = re.compile(r"step|iter|update|epoch")  # on the lowercased line: fast
STEP_RANK = {name: rank for rank, name in enumerate(STEP_NAMES)} | {"epoch": len(STEP_NAMES)}


@lru_cache(maxsize=4096)
def _generic_key(key: str) -> tuple[str, str] | None:
    """("step", name) or ("signal", canonical) for a key; multi-word keys are matched by
    their last one to three words, with spaces or underscores ("Train Epoch", "val loss")."""
    words = key.lower().split()
    for start in range(max(0, len(words) - 3), len(words)):
        for variant in (" ".join(words[start:]), "_".join(words[start:])):
            if is_step_name(variant) or variant == "epoch":
                return "step", variant
            if canonical := canonical_name(variant):
                return "signal", canonical
    return None


def generic(line: str, ctx: Context) -> Row | None:
    if not _STEP_HINT.search(line.lower()):
        return None
    steps: list[tuple[int, float]] = []
    values: dict[str, float] = {}
    for match in _PAIR.finditer(line):
        kind = _generic_key(match[1])
        if kind is None:
            continue
        value = float(match[2])
        if kind[0] == "step":
            steps.append((STEP_RANK.get(kind[1], len(STEP_RANK)), value))
        else:
            values.setdefault(kind[1], value)
    steps = [s for s in steps if math.isfinite(s[1]) and s[1].is_integer()]
    if not steps or not values:
        return None
    return int(min(steps)[1]), values


# Most specific first; a line is claimed by the first dialect that parses it. The reader
# tries the previous line's dialect before these, so no two specific dialects may both parse
# one line; generic, which parses many, is never tried early.
DIALECTS: tuple[Dialect, ...] = (
    Dialect("nanogpt", nanogpt),
    Dialect("build_nanogpt", build_nanogpt),
    Dialect("megatron", megatron),
    Dialect("deepspeed", deepspeed),
    Dialect("fairseq", fairseq),
    Dialect("hf_trainer_stdout", hf_stdout),
    Dialect("word_language_model", word_language_model),
    Dialect("mnist", mnist),
    Dialect("keras", keras),
    Dialect("generic", generic),
)
