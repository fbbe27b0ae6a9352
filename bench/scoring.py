"""Scoring a diagnoser against labeled runs: pure functions, no I/O, no diagnose imports.

A run's label: the symptoms its logged numbers show (with onset steps) and its causes,
primary first. A run's prediction: the symptoms reported at warning or above, each with its
first step, and the ranked causes. Info findings (a benign bump, a resume) are not alarms.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass
class Label:
    run_id: str
    symptoms: dict[str, int | None]  # symptom -> labeled onset step
    causes: list[str] = field(default_factory=list)  # primary first
    acceptable: set[str] = field(default_factory=set)  # shown weakly: neither required nor an alarm

    @property
    def healthy(self) -> bool:
        return not self.symptoms


@dataclass
class Prediction:
    run_id: str
    symptoms: dict[str, int | None]  # symptom -> reported onset step
    causes: list[str] = field(default_factory=list)  # ranked, most likely first


@dataclass
class SymptomScore:
    symptom: str
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    onset_errors: list[int] = field(default_factory=list)

    @property
    def support(self) -> int:
        return self.true_positives + self.false_negatives

    @property
    def precision(self) -> float | None:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.support if self.support else None

    @property
    def median_onset_error(self) -> float | None:
        return statistics.median(self.onset_errors) if self.onset_errors else None


@dataclass
class Score:
    symptoms: dict[str, SymptomScore]
    healthy_runs: int
    false_alarm_runs: int
    fault_runs_with_cause: int
    top1: int
    top3: int

    @property
    def false_alarm_rate(self) -> float | None:
        return self.false_alarm_runs / self.healthy_runs if self.healthy_runs else None

    @property
    def top1_accuracy(self) -> float | None:
        return self.top1 / self.fault_runs_with_cause if self.fault_runs_with_cause else None

    @property
    def top3_accuracy(self) -> float | None:
        return self.top3 / self.fault_runs_with_cause if self.fault_runs_with_cause else None


def score(labels: Sequence[Label], predictions: Iterable[Prediction],
          covered: Iterable[str] | None = None) -> Score:
    """Per-symptom counts over matched runs. `covered` limits scoring to the symptoms a
    diagnoser claims to detect (a peer rule that only looks for spikes is not charged
    with missing overfitting)."""
    by_id = {p.run_id: p for p in predictions}
    covered_set = set(covered) if covered is not None else None
    counts: dict[str, SymptomScore] = {}
    healthy = alarms = with_cause = top1 = top3 = 0
    for label in labels:
        predicted = by_id.get(label.run_id, Prediction(label.run_id, {}))
        _count_symptoms(label, predicted, counts, covered_set)
        if label.healthy:
            healthy += 1
            alarms += bool(_in_scope(predicted.symptoms, covered_set))
        elif label.causes:
            with_cause += 1
            top1 += predicted.causes[:1] == label.causes[:1]
            top3 += label.causes[0] in predicted.causes[:3]
    return Score(counts, healthy, alarms, with_cause, top1, top3)


def _in_scope(symptoms: Iterable[str], covered: set[str] | None) -> set[str]:
    return {s for s in symptoms if covered is None or s in covered}


def _count_symptoms(label: Label, predicted: Prediction, counts: dict[str, SymptomScore],
                    covered: set[str] | None) -> None:
    labeled = _in_scope(label.symptoms, covered)
    reported = _in_scope(predicted.symptoms, covered)
    for symptom in labeled | reported:
        entry = counts.setdefault(symptom, SymptomScore(symptom))
        if symptom in labeled and symptom in reported:
            entry.true_positives += 1
            onset, found = label.symptoms[symptom], predicted.symptoms[symptom]
            if onset is not None and found is not None:
                entry.onset_errors.append(abs(found - onset))
        elif symptom in labeled:
            entry.false_negatives += 1
        elif symptom not in label.acceptable:
            entry.false_positives += 1
