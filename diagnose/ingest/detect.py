"""Which reader reads a file: the registry, autodetection, and folder walking."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from diagnose.errors import InputError
from diagnose.ingest.textio import looks_binary, read_head

# Module names under diagnose.ingest, most specific first (ties go to the earlier one).
READERS = ("tensorboard", "hf_trainer", "mlflow", "parquet", "wandb_csv", "jsonl", "csv", "textlog")
MIN_CONFIDENCE = 0.3
SKIP_NAMES = {"manifest.json", "sources.md", "readme.md"}


def reader_names() -> list[str]:
    return list(READERS)


def get_reader(name: str) -> ModuleType:
    if name not in READERS:
        raise InputError(name, f"unknown input format; choose one of: {', '.join(READERS)}")
    return importlib.import_module(f"diagnose.ingest.{name}")


def detect_reader(path: Path, head: bytes | None = None) -> ModuleType:
    """The reader most confident it can read `path`; InputError naming what was tried."""
    if head is None:
        head = _head(path)
    best, best_score = _best_reader(path, head)
    if best is not None:
        return best
    if not head.strip():
        raise InputError(path, "the file is empty")
    what = "a binary file" if looks_binary(head) else "not a log format diagnose reads"
    raise InputError(path, f"{what} (tried {', '.join(READERS)}; use --input-format to force one)")


def _best_reader(path: Path, head: bytes) -> tuple[ModuleType | None, float]:
    best, best_score = None, MIN_CONFIDENCE
    for name in READERS:
        reader = get_reader(name)
        score = reader.sniff(path, head) if path.is_file() else _folder_score(reader, path)
        if score > best_score:
            best, best_score = reader, score
        if best_score >= 1.0:
            break  # certain: a later reader could only tie, and ties go to the earlier one
    return best, best_score


def _folder_score(reader: ModuleType, path: Path) -> float:
    claims = getattr(reader, "claims_folder", None)
    return 1.0 if claims is not None and claims(path) else 0.0


def _head(path: Path) -> bytes:
    try:
        return read_head(path) if path.is_file() else b""
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from None


def find_runs(folder: Path) -> list[Path]:
    """Every run under a folder: run folders a reader claims, and log files any reader reads."""
    runs: list[Path] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name.lower() in SKIP_NAMES:
            continue
        if entry.is_dir():
            reader, _ = _best_reader(entry, b"")
            runs += [entry] if reader is not None else find_runs(entry)
        elif entry.is_file() and _is_log(entry):
            runs.append(entry)
    return runs


def _is_log(path: Path) -> bool:
    try:
        head = read_head(path)
    except OSError:
        return False
    return _best_reader(path, head)[0] is not None
