"""TensorBoard event files (`events.out.tfevents.*`): a file, a run folder, or a tree.

Records are framed as: uint64 length, masked CRC-32C of the length, the data, masked CRC-32C
of the data. The framing is read here directly from a memory map (tensorboard's pure-Python record
reader is ~40x slower on big files); each record is decoded with tensorboard's own `event_pb2`.
A bad CRC or a short final record is a truncation: everything before it is kept.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from diagnose.errors import InputError
from diagnose.ingest.base import RawRun, point_series
from diagnose.ingest.signals import canonical_name
from diagnose.run import Note

name = "tensorboard"
FILE_MARK = "tfevents"
_HEADER = struct.Struct("<QI")
_CRC = struct.Struct("<I")


def sniff(path: Path, head: bytes) -> float:
    if FILE_MARK in path.name:
        return 0.95
    if len(head) >= 12:
        (length, length_crc) = _HEADER.unpack_from(head)
        crc32c = _crc32c_or_none()
        if crc32c is not None and length < 1 << 24 and _crc_ok(head[:8], length_crc, crc32c):
            return 0.9
    return 0.0


def claims_folder(path: Path) -> bool:
    """A run folder: event files directly inside it."""
    return any(FILE_MARK in p.name for p in path.iterdir() if p.is_file())


def read(path: Path) -> list[RawRun]:
    files = sorted(p for p in path.iterdir() if FILE_MARK in p.name) if path.is_dir() else [path]
    if not files:
        raise InputError(path, "no TensorBoard event files in this folder")
    tags: dict[str, tuple[list[int], list[float]]] = {}
    event_steps: list[int] = []
    notes: list[Note] = []
    for file in files:
        problem = _collect(file, tags, event_steps)
        if problem:
            notes.append(Note("truncated", f"{file.name}: {problem}; read every record before it"))
    if not tags:
        raise InputError(path, "no scalar summaries in the TensorBoard event file(s)")
    # No row_steps: writers log tags independently (a summary tag at step 0 after step 1000
    # is normal), so a resume is cut per tag, where each tag's own steps go back.
    signals = _signals(tags, np.asarray(event_steps, dtype=np.int64))
    return [RawRun(signals=signals, source=str(path), format=name, notes=notes)]


def _collect(file: Path, tags: dict, event_steps: list[int]) -> str | None:
    """Scalar points of one file into `tags`; the problem that stopped the read, if any."""
    parse, is_signal = event_parser(file), signal_tags()
    records = records_of(file)
    for record in records:
        step, found = scalars_of(parse(record), is_signal)
        if not found:
            continue
        row = len(event_steps)
        event_steps.append(step)
        for tag, number in found.items():
            rows, values = tags.setdefault(tag, ([], []))
            rows.append(row)
            values.append(number)
    return records.problem


MISSING_EXTRA = "reading TensorBoard event files needs the tensorboard extra: pip install 'diagnose[tensorboard]'"


def event_parser(path: Path) -> Callable[[bytes], Any]:
    """tensorboard's own Event decoder; InputError naming the extra when it is not installed."""
    try:
        from tensorboard.compat.proto import event_pb2
    except ImportError:
        raise InputError(path, MISSING_EXTRA) from None
    return event_pb2.Event.FromString


def _crc32c_or_none() -> Callable[[bytes], int] | None:
    try:
        from crc32c import crc32c
    except ImportError:
        return None  # without the tensorboard extra an event file is known by its name only
    return crc32c


def signal_tags() -> Callable[[str], bool]:
    """Whether a tag names a signal, remembered per tag (a log repeats a few tags a million times)."""
    return cache(lambda tag: canonical_name(tag) is not None)


def scalars_of(event, is_signal: Callable[[str], bool]) -> tuple[int, dict[str, float]]:
    """The step of an event and its scalar summaries whose tag names a signal."""
    found = {}
    for value in event.summary.value:  # empty when the event has no summary
        tag = value.tag
        if is_signal(tag):
            number = value.simple_value if value.WhichOneof("value") == "simple_value" else _scalar(value)
            if number is not None:
                found[tag] = number
    return event.step, found


class records_of:
    """Iterate the data of each framed record from byte `start`; `problem` says why iteration
    stopped early, `end` is where the last complete record ended (a follower resumes there).

    The file is memory-mapped, so a record costs two slices, not three reads."""

    def __init__(self, path: Path, start: int = 0) -> None:
        self.path = path
        self.problem: str | None = None
        self.end = start

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                return
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                yield from self._records(data)

    def _records(self, data: mmap.mmap) -> Iterator[bytes]:
        """Only the data's CRC is checked on the way: a wrong length would fail it too. The
        length's own CRC is consulted when something fails, to say which part is bad."""
        crc32c = _crc32c_or_none()
        if crc32c is None:
            raise InputError(self.path, MISSING_EXTRA)

        end, at = len(data), self.end
        while at < end:
            if end - at < 12:
                self.problem = "the last record is cut off"
                return
            length, length_crc = _HEADER.unpack_from(data, at)
            body_end = at + 12 + length
            past_end = body_end + 4 > end
            record = b"" if past_end else data[at + 12 : body_end]
            if past_end or _masked(crc32c(record)) != _CRC.unpack_from(data, body_end)[0]:
                self.problem = self._why_bad(data[at : at + 8], length_crc, past_end, crc32c)
                return
            at = self.end = body_end + 4
            yield record

    @staticmethod
    def _why_bad(length_bytes: bytes, length_crc: int, past_end: bool, crc32c: Callable[[bytes], int]) -> str:
        if not _crc_ok(length_bytes, length_crc, crc32c):
            return "a record length fails its CRC"
        return "the last record is cut off" if past_end else "a record fails its CRC"


def _crc_ok(data: bytes, masked: int, crc32c: Callable[[bytes], int]) -> bool:
    return _masked(crc32c(data)) == masked


def _masked(crc: int) -> int:
    """TFRecord's masked CRC-32C."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _scalar(value) -> float | None:
    """A scalar summary value: TF1 `simple_value` or a TF2 rank-0 tensor."""
    if value.HasField("simple_value"):
        return float(value.simple_value)
    if not value.HasField("tensor"):
        return None
    tensor = value.tensor
    if tensor.tensor_shape.dim and any(d.size != 1 for d in tensor.tensor_shape.dim):
        return None
    for field in ("float_val", "double_val", "int_val", "int64_val", "half_val"):
        values = getattr(tensor, field)
        if len(values) == 1:
            return float(values[0])
    if tensor.tensor_content:
        dtype = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}.get(tensor.dtype)
        if dtype is not None and len(tensor.tensor_content) == np.dtype(dtype).itemsize:
            return float(np.frombuffer(tensor.tensor_content, dtype=dtype)[0])
    return None


def _signals(tags: dict, event_steps: np.ndarray) -> dict[str, pd.Series]:
    return {tag: point_series(event_steps, rows, values, tag) for tag, (rows, values) in tags.items()}
