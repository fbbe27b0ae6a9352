"""Learning-rate schedules as a pure function of the step: linear warm-up, then a decay."""

from __future__ import annotations

import math


def lr_at(step: int, total: int, spec: dict) -> float:
    """The LR at `step` of `total` for spec {peak, warmup, decay, milestones, gamma, floor}.

    decay: "none" (constant), "cosine" (to floor * peak at the end), "step" (x gamma at each
    fraction of the run listed in milestones), "linear" (to floor * peak).
    """
    peak = spec["peak"]
    warmup = spec.get("warmup", 0)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    floor = spec.get("floor", 0.0)
    decay = spec.get("decay", "none")
    if decay == "cosine":
        return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))
    if decay == "linear":
        return peak * (1 - (1 - floor) * progress)
    if decay == "step":
        passed = sum(1 for m in spec.get("milestones", (0.5, 0.75)) if step >= m * total)
        return peak * spec.get("gamma", 0.1) ** passed
    return peak


def describe(spec: dict) -> str:
    """e.g. `warmup 100 -> 3e-3, cosine`."""
    text = f"{spec['peak']:g}"
    if spec.get("warmup"):
        text = f"warmup {spec['warmup']} -> {text}"
    decay = spec.get("decay", "none")
    return text if decay == "none" else f"{text}, {decay}"
