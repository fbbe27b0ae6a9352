"""What ingest noticed (a resumed run, a truncated file) surfaced as events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diagnose.detectors.base import Event
from diagnose.run import Run


def ingest_note(run: Run, params: Mapping[str, Any]) -> list[Event]:
    """One event per ingest note of kind `params["kind"]`."""
    return [
        Event(step=note.step, end_step=note.step, confidence=1.0, evidence=[note.message])
        for note in run.notes
        if note.kind == params.get("kind")
    ]
