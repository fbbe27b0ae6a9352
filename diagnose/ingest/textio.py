"""Small byte-level helpers shared by readers: heads, tails, compressed files."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 64 * 1024


def open_binary(path: Path) -> IO[bytes]:
    """Open a log for reading; `.gz` files are decompressed on the fly."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    with open_binary(path) as handle:
        return handle.read(size)


def first_line(head: bytes) -> str:
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    # Only \n (and \r\n) end a line, as for the CSV parser: splitlines() would also split
    # at \v, \f or \x1c and disagree with it about where the header ends.
    return text.split("\n", 1)[0].rstrip("\r") if text.strip() else ""


def last_line(path: Path) -> str:
    """The last non-empty line of a file (decompressing `.gz` fully, which is rare)."""
    if path.suffix.lower() == ".gz":
        with open_binary(path) as handle:
            tail = b""
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                tail = (tail + chunk)[-TAIL_BYTES:]
    else:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            tail = handle.read()
    lines = [line for line in tail.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def looks_binary(head: bytes) -> bool:
    """NUL bytes or many undecodable bytes in the first block: not a text log."""
    if not head:
        return False
    if b"\x00" in head[:4096]:
        return True
    sample = head[:4096]
    return sample.decode("utf-8", errors="replace").count("\ufffd") > len(sample) // 20
