"""The per-layer table of the latest sane checkpoint: rows as plain data (JSON, Markdown) and
as a rich Table (terminal)."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from diagnose.checkpoint.evidence import label
from diagnose.checkpoint.scan import Scan, TensorRecord
from diagnose.detectors.common import fmt

COLUMNS = ("layer", "shape", "weight RMS", "init RMS", "grad RMS", "update", "non-finite")


def layer_rows(scan: Scan, measured: bool) -> list[dict[str, Any]]:
    """One row per module: its weight (else its first tensor), with the module's non-finite
    count over parameters, buffers and optimizer moments. `measured`: update from the previous
    checkpoint, else the optimizer's next step."""
    layers: dict[str, list[TensorRecord]] = {}
    for record in scan.records.values():
        if record.shape:
            layers.setdefault(record.layer, []).append(record)
    rows = []
    for layer, records in layers.items():
        main = next((r for r in records if r.name.endswith(".weight") or r.name == "weight"), records[0])
        rows.append({
            "layer": layer, "tensor": main.name, "role": main.role, "shape": list(main.shape),
            "weight_rms": main.stats.rms if main.stats.finite else None,
            "init_rms": list(main.init) if main.init else None,
            "grad_rms": main.grad_rms,
            "update_ratio": main.update_ratio if measured else main.step_ratio,
            "nonfinite": sum(r.nonfinite for r in records),
        })
    return rows


def update_caption(measured: bool) -> str:
    return ("update: per-step |dW|/|W| since the previous checkpoint" if measured
            else "update: |dW|/|W| of the optimizer's next step")


def rich_table(scan: Scan, measured: bool) -> Table:
    table = Table(title=f"layers at {label(scan)}", title_justify="left",
                  caption=update_caption(measured) + "; grad RMS from the optimizer's moments",
                  caption_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in ("layer", "shape") else "right", overflow="fold")
    for row in layer_rows(scan, measured):
        cells = text_cells(row)
        style = "red" if row["nonfinite"] else ""
        table.add_row(*(Text(c, style=style) for c in cells))
    return table


def text_cells(row: dict[str, Any]) -> list[str]:
    init = row["init_rms"]
    return [row["layer"], "x".join(map(str, row["shape"])), _num(row["weight_rms"]),
            f"{fmt(init[0])}-{fmt(init[1])}" if init else "-", _num(row["grad_rms"]),
            _num(row["update_ratio"]), str(row["nonfinite"])]


def markdown_table(scan: Scan, measured: bool) -> str:
    rows = [text_cells(row) for row in layer_rows(scan, measured)]
    lines = [f"## Layers at {label(scan)}", "", "| " + " | ".join(COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(f"`{c}`" if i == 0 else c for i, c in enumerate(row)) + " |" for row in rows]
    return "\n".join(lines + ["", f"_{update_caption(measured)}_", ""])


def _num(value: float | None) -> str:
    return "-" if value is None else fmt(value)
