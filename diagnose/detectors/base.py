"""What a detector returns: an event over a step range, with its numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    """A stretch of a run where a detector saw its pattern.

    `stats` holds the numbers (before/after values, ratios, z-scores) that evidence functions
    and severity conditions read; `evidence` holds the same numbers as sentences for people.
    """

    step: int | None
    end_step: int | None
    confidence: float
    evidence: list[str]
    signal: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
