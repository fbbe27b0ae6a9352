"""Detectors: pure functions `(run, params) -> list[Event]`, looked up by the name rules use.

A rule names its detector as "<module>.<function>" (e.g. "spikes.robust_jump"); the module is
imported on first use, so a run only pays for the detectors its rules name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from diagnose.detectors.base import Event
from diagnose.errors import RuleError
from diagnose.run import Run

Detector = Callable[[Run, Mapping[str, Any]], list[Event]]

MODULES = ("nonfinite", "spikes", "trends", "gradients", "plateaus", "notes", "baseline")


def get_detector(name: str) -> Detector:
    module_name, _, func_name = name.partition(".")
    if module_name not in MODULES or not func_name:
        raise RuleError(f"unknown detector {name!r} (modules: {', '.join(MODULES)})")
    module = importlib.import_module(f"diagnose.detectors.{module_name}")
    func = getattr(module, func_name, None)
    if func is None or func_name.startswith("_"):
        raise RuleError(f"unknown detector {name!r}: {module_name} has no {func_name!r}")
    return func
