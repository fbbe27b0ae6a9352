"""Ingest: any supported log -> canonical Runs. One module per format; detect.py picks one."""

from __future__ import annotations

from pathlib import Path

from diagnose.errors import InputError
from diagnose.ingest.canonical import canonicalize
from diagnose.ingest.detect import detect_reader, find_runs, get_reader, reader_names
from diagnose.run import Run

__all__ = ["read_runs", "find_runs", "reader_names"]


def read_runs(path: Path, input_format: str | None = None) -> list[Run]:
    """Every run in one file or run folder, canonicalised."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file or folder")
    reader = get_reader(input_format) if input_format else detect_reader(path)
    try:
        raws = reader.read(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read ({exc})") from None
    return [canonicalize(raw) for raw in raws]
