"""Evidence: small functions `(run, event, params) -> (strength 0..1, detail)` that say how
strongly something holds around an event. Rules weigh them to rank causes; the report shows
which of them moved each score. Named in rules/evidence.toml as "<module>.<function>".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from diagnose.detectors.base import Event
from diagnose.errors import RuleError
from diagnose.run import Run

EvidenceFn = Callable[[Run, Event, Mapping[str, Any]], tuple[float, str]]

MODULES = ("lr", "grads", "loss", "event", "precision")


def get_evidence(name: str) -> EvidenceFn:
    module_name, _, func_name = name.partition(".")
    if module_name not in MODULES or not func_name or func_name.startswith("_"):
        raise RuleError(f"unknown evidence function {name!r} (modules: {', '.join(MODULES)})")
    func = getattr(importlib.import_module(f"diagnose.evidence.{module_name}"), func_name, None)
    if func is None:
        raise RuleError(f"unknown evidence function {name!r}")
    return func
