"""The fast path for plain JSON Lines: arrow's multithreaded JSON reader.

On a million-line log the read itself is about 14x faster than decoding line by line (the
whole process 6.5 s -> 1.2 s, bench/speed_jsonl.py). It answers only when its answer is
exactly the careful reader's (jsonl.py): arrow must parse every line as an object (NaN and
Infinity tokens parse; a broken or cut line, a line that is not an object, a repeated key or
a number beyond double give None), and every key the diagnosis keeps (the step and the
signals) must hold plain numbers, nulls or booleans: numeric strings, one-element lists and
text go to the careful reader, which reads them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

from diagnose.ingest.signals import canonical_name, is_step_name, name_key

#: key -> (rows holding a number, those numbers as float64), as the careful reader collects them.
Columns = dict[str, tuple[np.ndarray, np.ndarray]]


def read_numbers(path: Path) -> tuple[Columns, int] | None:
    """The numeric keys of every line ('outer/inner' for nested objects) and the line count,
    or None if this file needs the careful reader."""
    if path.suffix.lower() == ".gz":
        return None
    try:
        table = pajson.read_json(path)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError):
        return None
    columns: Columns = {}
    for key, column in _leaves(table):
        if not (canonical_name(key) or is_step_name(key)):
            continue  # the careful reader uses only these too
        numbers = _numbers(column)
        if numbers is None:
            return None
        if len(numbers[0]):  # the careful reader only knows keys that held a number
            columns[key] = numbers
    if not table.num_rows or len({name_key(key) for key in columns}) < len(columns):
        return None  # "Step" and "step": which one wins depends on the careful reader's order
    # The careful reader meets keys in file order, at their first number.
    return dict(sorted(columns.items(), key=lambda item: item[1][0][0])), table.num_rows


def _leaves(table: pa.Table):
    """(key, column) for every non-object value, nested objects flattened to 'outer/inner'
    (arrow's flatten keeps a child null where its parent object was absent)."""
    stack = [(name, table.column(name)) for name in reversed(table.column_names)]
    while stack:
        key, column = stack.pop()
        if pa.types.is_struct(column.type):
            names = [f"{key}/{column.type.field(i).name}" for i in range(column.type.num_fields)]
            stack.extend(reversed(list(zip(names, column.flatten()))))
        else:
            yield key, column


def _numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows with a number and the numbers; booleans and nulls are not numbers. None for any
    other type, which the careful reader handles value by value."""
    kind = column.type
    if pa.types.is_boolean(kind) or pa.types.is_null(kind):
        return np.empty(0, dtype=np.int64), np.empty(0)
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return None
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if column.null_count == 0:
        return np.arange(len(values), dtype=np.int64), values
    rows = np.flatnonzero(column.is_valid().to_numpy(zero_copy_only=False))
    return rows, values[rows]
