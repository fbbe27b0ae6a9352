"""The rule set as data: rules/*.toml, plus causes.toml and evidence.toml, validated on load.

A user's `--rules DIR` is loaded after the built-in set: a rule, cause or evidence with the
same id replaces the built-in one; new ids are added.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from diagnose.detectors import get_detector
from diagnose.errors import RuleError
from diagnose.evidence import get_evidence
from diagnose.report.model import SEVERITIES

SYMPTOMS = (
    "non_finite", "loss_spike", "divergence", "exploding_gradients", "vanishing_gradients",
    "plateau", "oscillation", "overfitting", "stuck_at_chance", "underfitting",
    # extensions (CONTRACT.md: extend, never rename): what ingest noticed about the log itself
    "resumed", "truncated", "regression",
)
SPECIAL_FILES = {"causes.toml", "evidence.toml"}


@dataclass
class CauseRule:
    cause: str
    base: float
    evidence: dict[str, float]
    fixes: list[str] = field(default_factory=list)


@dataclass
class Rule:
    id: str
    symptom: str
    severity: str
    detector: str
    requires: list[str]
    params: dict[str, Any]
    causes: list[CauseRule]
    severity_when: dict[str, str] = field(default_factory=dict)
    suppressed_by: list[str] = field(default_factory=list)
    doc: dict[str, Any] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)
    path: str = ""


@dataclass
class EvidenceDef:
    name: str
    function: str
    params: dict[str, Any]
    doc: str = ""


@dataclass
class CauseDef:
    id: str
    title: str
    what: str
    why: str
    fixes: list[str]


@dataclass
class RuleSet:
    rules: dict[str, Rule]
    evidence: dict[str, EvidenceDef]
    causes: dict[str, CauseDef]

    def for_symptom(self, symptom: str) -> list[Rule]:
        return [r for r in self.rules.values() if r.symptom == symptom]


def builtin_rules_dir() -> Path:
    return Path(str(resources.files("diagnose._rules")))


def load_rules(extra_dirs: list[Path] | tuple[Path, ...] = ()) -> RuleSet:
    ruleset = RuleSet(rules={}, evidence={}, causes={})
    for directory in (builtin_rules_dir(), *map(Path, extra_dirs)):
        _load_dir(directory, ruleset)
    _validate(ruleset)
    return ruleset


def _load_dir(directory: Path, ruleset: RuleSet) -> None:
    if not directory.is_dir():
        raise RuleError(f"{directory}: not a folder of rule files")
    for path in sorted(directory.glob("*.toml")):
        data = _read_toml(path)
        if path.name == "causes.toml":
            ruleset.causes.update({k: _cause_def(k, v, path) for k, v in data.items()})
        elif path.name == "evidence.toml":
            ruleset.evidence.update({k: _evidence_def(k, v, path) for k, v in data.items()})
        else:
            rule = _rule(data, path)
            ruleset.rules[rule.id] = rule


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: not valid TOML ({exc})") from None


def _rule(data: dict[str, Any], path: Path) -> Rule:
    try:
        return Rule(
            id=data["id"],
            symptom=data["symptom"],
            severity=data.get("severity", "warning"),
            detector=data["detector"],
            requires=list(data.get("requires", [])),
            params=dict(data.get("params", {})),
            causes=[
                CauseRule(c["cause"], float(c.get("base", 0.0)), dict(c.get("evidence", {})),
                          list(c.get("fixes", [])))
                for c in data.get("causes", [])
            ],
            severity_when=dict(data.get("severity_when", {})),
            suppressed_by=list(data.get("suppressed_by", [])),
            doc=dict(data.get("doc", {})),
            cases=list(data.get("cases", [])),
            path=str(path),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RuleError(f"{path}: missing or malformed field {exc}") from None


def _cause_def(key: str, data: dict[str, Any], path: Path) -> CauseDef:
    try:
        return CauseDef(key, data["title"], data.get("what", ""), data.get("why", ""),
                        list(data["fixes"]))
    except (KeyError, TypeError) as exc:
        raise RuleError(f"{path}: cause {key!r} is missing {exc}") from None


def _evidence_def(key: str, data: dict[str, Any], path: Path) -> EvidenceDef:
    data = dict(data)
    try:
        return EvidenceDef(key, data.pop("function"), data, data.pop("doc", ""))
    except KeyError:
        raise RuleError(f"{path}: evidence {key!r} has no function") from None


def _validate(ruleset: RuleSet) -> None:
    for definition in ruleset.evidence.values():
        get_evidence(definition.function)
    for rule in ruleset.rules.values():
        where = f"{rule.path}: rule {rule.id!r}"
        if rule.symptom not in SYMPTOMS:
            raise RuleError(f"{where}: unknown symptom {rule.symptom!r}")
        for severity in (rule.severity, *rule.severity_when.values()):
            if severity not in SEVERITIES:
                raise RuleError(f"{where}: unknown severity {severity!r}")
        try:
            get_detector(rule.detector)
        except RuleError as exc:
            raise RuleError(f"{where}: {exc}") from None
        for cause in rule.causes:
            if cause.cause not in ruleset.causes:
                raise RuleError(f"{where}: unknown cause {cause.cause!r}")
            for name in cause.evidence:
                if name not in ruleset.evidence:
                    raise RuleError(f"{where}: unknown evidence {name!r}")
