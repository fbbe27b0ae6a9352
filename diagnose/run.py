"""The canonical run: what every reader produces and every detector reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Note:
    """Something ingest saw that the user should know (resume, truncation, dropped rows).

    Notes become `info` findings in the report.
    """

    kind: str  # e.g. "resumed", "truncated", "unparsed_lines"
    message: str
    step: int | None = None


@dataclass
class Run:
    """One training run as named signals over steps.

    Each signal is a float Series indexed by step (int64, sorted, unique), holding only the
    steps where the signal was logged. NaN or Inf in a series is a value the log really had;
    a step where the signal was not logged is simply absent. That keeps sparse signals
    (validation loss every N steps) apart from real NaNs.
    """

    signals: dict[str, pd.Series]
    source: str = "<memory>"
    format: str = "frame"
    notes: list[Note] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.signals and len(self.signals[name]) > 0

    def series(self, name: str) -> pd.Series:
        return self.signals[name]

    @property
    def names(self) -> list[str]:
        return list(self.signals)

    @property
    def layer_names(self) -> list[str]:
        """Per-layer gradient-norm signals, in the order the log listed them (input first)."""
        return [n for n in self.signals if n.startswith("grad_norm/")]

    @property
    def steps(self) -> int:
        """Number of distinct logged steps across all signals."""
        if not self.signals:
            return 0
        return int(max(len(s) for s in self.signals.values()))

    @property
    def last_step(self) -> int | None:
        ends = [int(s.index[-1]) for s in self.signals.values() if len(s)]
        return max(ends) if ends else None

    @property
    def frame(self) -> pd.DataFrame:
        """All signals on one step index (NaN where a signal was not logged)."""
        return pd.DataFrame(self.signals).sort_index()

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str = "<memory>") -> "Run":
        """A Run from a frame with a step column or step index; names are normalised."""
        from diagnose.ingest.canonical import run_from_frame

        return run_from_frame(frame, source=source)
