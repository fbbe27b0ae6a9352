"""Parquet tables of metrics (one column per signal, a step column or row order)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from diagnose.errors import InputError
from diagnose.ingest.base import RawRun
from diagnose.ingest.csv import table_signals, wanted_columns

name = "parquet"
MAGIC = b"PAR1"


def sniff(path: Path, head: bytes) -> float:
    return 0.95 if head[:4] == MAGIC else 0.0


def read(path: Path) -> list[RawRun]:
    import pyarrow.parquet as pq  # 10 ms, and every file is sniffed by this module

    try:
        columns = pq.read_schema(path).names
        table = pq.read_table(path, columns=wanted_columns(columns) or None)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(path, f"not a readable Parquet file ({exc})") from None
    steps, signals, rows = table_signals(table, path)
    return [RawRun(signals=signals, source=str(path), format=name, row_steps=steps, rows=rows)]
