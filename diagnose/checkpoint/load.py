"""Checkpoint files and folders -> Checkpoint objects whose tensors stay on disk until scanned.

Pickles (.pt .pth .bin .ckpt) load only through torch.load(weights_only=True): a file that
needs arbitrary code (a class with __reduce__, os.system...) is refused, never executed.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diagnose.checkpoint import layout
from diagnose.checkpoint.safetensors_file import SafetensorsFile
from diagnose.checkpoint.tensors import TensorSource, TorchTensors
from diagnose.errors import DiagnoseError, InputError, one_line

PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt"}
SUFFIXES = PICKLE_SUFFIXES | {".safetensors"}
HF_WEIGHTS = ("model*.safetensors", "pytorch_model*.bin")
STEP_IN_NAME = re.compile(r"(?:step|iter|iteration|checkpoint|ckpt)[=_-]?(\d+)", re.I)


@dataclass
class Checkpoint:
    path: Path
    layout: str
    weights: TensorSource
    optimizer: Mapping | None
    step: int | None
    log: Path | None = None  # a Hugging Face folder's trainer_state.json

    def close(self) -> None:
        for source in getattr(self.weights, "sources", [self.weights]):
            source.close()


def expand(paths: Sequence[Path]) -> list[Path]:
    """Files and checkpoint folders as given; a folder of checkpoints becomes its members,
    ordered by the step in their names."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise InputError(path, "no such file or folder")
        if path.is_dir() and not is_hf_folder(path):
            members = [p for p in path.iterdir() if is_hf_folder(p) or p.suffix in SUFFIXES and p.is_file()]
            if not members:
                raise InputError(path, "no checkpoints found in this folder")
            found += sorted(members, key=lambda p: (name_step(p) or 0, p.name))
        else:
            found.append(path)
    return found


def load_checkpoint(path: Path) -> Checkpoint:
    """One checkpoint file or Hugging Face checkpoint folder."""
    path = Path(path)
    if path.is_dir():
        return _hf_folder(path)
    if path.suffix == ".safetensors":
        return Checkpoint(path, "safetensors", SafetensorsFile(path), None, name_step(path))
    contents = layout.split(torch_load(path))
    if not contents.tensors:
        raise InputError(path, "no tensors found in this checkpoint")
    step = contents.step or layout.optimizer_step(contents.optimizer) or name_step(path)
    return Checkpoint(path, contents.layout, TorchTensors(contents.tensors), contents.optimizer, step)


def torch_load(path: Path) -> Any:
    """torch.load with weights_only=True (memory-mapped when the file format allows)."""
    import pickle

    try:
        import torch
    except ImportError:
        raise DiagnoseError(f"{path}: reading torch pickles needs torch (pip install 'diagnose[torch]')") from None
    _check_magic(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Detected pickle protocol 4": refused anyway
            return _load(torch, path)
    except pickle.UnpicklingError as exc:
        if "Weights only load failed" not in str(exc):
            raise InputError(path, f"not a readable torch checkpoint ({one_line(exc)})") from None
        raise InputError(path, "refused: needs arbitrary code to load (only weights_only pickles are "
                               "read)" + _culprit(str(exc))) from None
    except EOFError:
        raise InputError(path, "truncated torch checkpoint (the pickle ends early)") from None
    except (RuntimeError, KeyError, ValueError, OSError) as exc:
        raise InputError(path, f"not a readable torch checkpoint ({one_line(exc)})") from None


def _load(torch: Any, path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as exc:
        if "mmap can only be used" not in str(exc):
            raise
        return torch.load(path, map_location="cpu", weights_only=True)  # legacy format


def _culprit(message: str) -> str:
    called = re.search(r"GLOBAL ([\w.]+)", message)
    opcode = re.search(r"Unsupported operand (\d+)", message)
    return f": it calls {called.group(1)}" if called else f": pickle opcode {opcode.group(1)}" if opcode else ""


def _check_magic(path: Path) -> None:
    """torch.save writes a zip archive (PK..) or, in the legacy format, a pickle (0x80 ...)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        raise InputError(path, "empty file")
    if not (head.startswith(b"PK") or head[:1] == b"\x80"):
        raise InputError(path, "not a torch checkpoint (neither a torch.save zip archive nor a pickle)")


def is_hf_folder(path: Path) -> bool:
    return path.is_dir() and any(next(path.glob(pattern), None) for pattern in HF_WEIGHTS)


def name_step(path: Path) -> int | None:
    match = STEP_IN_NAME.findall(path.name)
    return int(match[-1]) if match else None


def _hf_folder(path: Path) -> Checkpoint:
    """A Hugging Face Trainer checkpoint: weights (safetensors or .bin, maybe sharded),
    optimizer.pt, trainer_state.json."""
    safetensors = sorted(path.glob("model*.safetensors"))
    if safetensors:
        weights: TensorSource = Merged([SafetensorsFile(p) for p in safetensors])
    else:
        tensors: dict[str, Any] = {}
        for file in sorted(path.glob("pytorch_model*.bin")):
            tensors.update(layout.split(torch_load(file)).tensors)
        weights = TorchTensors(tensors)
    optimizer_file = path / "optimizer.pt"
    optimizer = _optimizer_file(optimizer_file) if optimizer_file.is_file() else None
    log = path / "trainer_state.json"
    step = _trainer_step(log) or layout.optimizer_step(optimizer) or name_step(path)
    return Checkpoint(path, "huggingface", weights, optimizer, step, log if log.is_file() else None)


def _optimizer_file(path: Path) -> Mapping | None:
    saved = torch_load(path)
    return layout.as_optimizer(saved) or layout.split(saved).optimizer


def _trainer_step(log: Path) -> int | None:
    try:
        step = json.loads(log.read_text(encoding="utf-8")).get("global_step")
    except (OSError, ValueError, AttributeError):
        return None
    return int(step) if isinstance(step, (int, float)) else None


class Merged:
    """Several sources (the shards of one model) seen as one."""

    def __init__(self, sources: list[TensorSource]) -> None:
        self.sources = sources
        self.owner = {name: source for source in sources for name in source.names()}

    def names(self) -> list[str]:
        return list(self.owner)

    def shape(self, name: str) -> tuple[int, ...]:
        return self.owner[name].shape(name)

    def is_float(self, name: str) -> bool:
        return self.owner[name].is_float(name)

    def read(self, name: str, start: int, count: int):
        return self.owner[name].read(name, start, count)
