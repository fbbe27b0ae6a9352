"""Evidence of reduced-precision trouble: loss-scale drops, skipped or NaN iterations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from diagnose.detectors.base import Event
from diagnose.detectors.common import finite_points
from diagnose.run import Run


def overflow(run: Run, event: Event, params: Mapping[str, Any]) -> tuple[float, str]:
    """The fp16 loss scale dropped, or iterations were skipped or NaN."""
    details = []
    if run.has("loss_scale"):
        _, scale = finite_points(run.series("loss_scale"))
        drops = int((np.diff(scale) < 0).sum())
        if drops >= params.get("min_drops", 1):
            details.append(f"loss scale dropped {drops} times")
    for counter in ("skipped_steps", "nan_steps"):
        if run.has(counter):
            _, counts = finite_points(run.series(counter))
            if (counts > 0).any():
                details.append(f"{counter} > 0 at {(counts > 0).sum()} logged points")
    return (1.0, "; ".join(details)) if details else (0.0, "")
