"""Score diagnose and the peer rules on the labeled corpus; print the table, write per-run rows.

    python bench/score.py [--corpus bench/corpus] [--out bench/results]

Needs no torch: the corpus logs are committed. Targets (issue 4): every symptom precision
and recall >= 0.95, no false alarm on a healthy run, top-1 cause >= 0.85, top-3 >= 0.95.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from baselines import BASELINES, COVERS  # noqa: E402
from scoring import Label, Prediction, Score, score  # noqa: E402

from diagnose.api import diagnose_run  # noqa: E402
from diagnose.ingest import read_runs  # noqa: E402
from diagnose.report.model import RunReport, severity_rank  # noqa: E402
from diagnose.rules import load_rules  # noqa: E402

ALARM = severity_rank("warning")


def load_labels(manifest: Path) -> tuple[list[Label], list[dict]]:
    entries = json.loads(manifest.read_text())["runs"]
    labels = [
        Label(e["id"], {s["symptom"]: s.get("onset") for s in e["symptoms"]}, list(e["causes"]),
              set(e.get("acceptable", [])))
        for e in entries
    ]
    return labels, entries


def prediction_from(run_id: str, report: RunReport) -> Prediction:
    """Symptoms at warning or above with their first step; causes ranked across findings."""
    symptoms: dict[str, int | None] = {}
    causes: list[str] = []
    for finding in report.findings:
        if severity_rank(finding.severity) < ALARM:
            continue
        step = finding.step
        if finding.symptom not in symptoms or (step is not None and (symptoms[finding.symptom] is None or step < symptoms[finding.symptom])):
            symptoms[finding.symptom] = step
        causes += [c.cause for c in finding.causes if c.cause not in causes]
    return Prediction(run_id, symptoms, causes)


def run_all(corpus: Path, entries: list[dict]) -> tuple[dict, dict, float]:
    ruleset = load_rules([])
    ours: dict[str, Prediction] = {}
    peers: dict[str, dict[str, Prediction]] = {name: {} for name in BASELINES}
    started = time.perf_counter()
    for entry in entries:
        path = corpus / entry["file"]
        report = diagnose_run(path, rules=ruleset, num_classes=entry.get("num_classes")).runs[0]
        ours[entry["id"]] = prediction_from(entry["id"], report)
    elapsed = time.perf_counter() - started
    for entry in entries:
        run = read_runs(corpus / entry["file"])[0]
        for name, baseline in BASELINES.items():
            peers[name][entry["id"]] = Prediction(entry["id"], dict(baseline(run)))
    return ours, peers, elapsed


def _pct(value: float | None) -> str:
    return "  -  " if value is None else f"{value:5.2f}"


def print_table(ours: Score, peers: dict[str, Score]) -> None:
    names = list(peers)
    header = f"{'symptom':<22}{'n':>4}  {'P':>5} {'R':>5} {'onset':>7}  " + "  ".join(f"{n[:11]:>11}" for n in names)
    print(header)
    print(" " * 44 + "  ".join(f"{'P/R':>11}" for _ in names))
    for symptom in sorted(ours.symptoms):
        entry = ours.symptoms[symptom]
        onset = entry.median_onset_error
        cells = []
        for name in names:
            peer = peers[name].symptoms.get(symptom)
            cells.append(f"{_pct(peer.precision).strip()}/{_pct(peer.recall).strip()}" if peer and symptom in COVERS[name] else "")
        print(f"{symptom:<22}{entry.support:>4}  {_pct(entry.precision)} {_pct(entry.recall)} "
              f"{'-' if onset is None else int(onset):>7}  " + "  ".join(f"{c:>11}" for c in cells))


def write_rows(out: Path, labels: list[Label], ours: dict[str, Prediction], entries: list[dict]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "per_run.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "file", "fault", "labeled", "reported", "labeled_cause", "reported_causes", "verdict"])
        for label, entry in zip(labels, entries):
            got = ours[label.run_id]
            labeled = set(label.symptoms)
            reported = set(got.symptoms) - label.acceptable if labeled else set(got.symptoms)
            ok = labeled <= set(got.symptoms) and reported <= labeled
            cause_ok = not label.causes or got.causes[:1] == label.causes[:1]
            writer.writerow([
                label.run_id, entry["file"], entry.get("fault", ""),
                " ".join(f"{s}@{o}" for s, o in label.symptoms.items()),
                " ".join(f"{s}@{o}" for s, o in got.symptoms.items()),
                label.causes[0] if label.causes else "", " ".join(got.causes[:3]),
                "ok" if ok and cause_ok else ("wrong-cause" if ok else "miss"),
            ])
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description="Score diagnose on the labeled corpus.")
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    labels, entries = load_labels(args.corpus / "manifest.json")
    ours, peers, elapsed = run_all(args.corpus, entries)
    our_score = score(labels, ours.values())
    peer_scores = {name: score(labels, preds.values(), COVERS[name]) for name, preds in peers.items()}
    healthy = sum(label.healthy for label in labels)
    print(f"corpus: {len(labels)} runs ({healthy} healthy), diagnosed in {elapsed:.1f} s "
          f"({1000 * elapsed / max(1, len(labels)):.0f} ms per run)\n")
    print_table(our_score, peer_scores)
    print()
    print(f"false alarms on healthy runs: {our_score.false_alarm_runs}/{our_score.healthy_runs} "
          f"(peers: " + ", ".join(f"{n} {s.false_alarm_runs}" for n, s in peer_scores.items()) + ")")
    print(f"top-1 cause: {_pct(our_score.top1_accuracy)} ({our_score.top1}/{our_score.fault_runs_with_cause})   "
          f"top-3 cause: {_pct(our_score.top3_accuracy)} ({our_score.top3}/{our_score.fault_runs_with_cause})")
    print(f"per-run table: {write_rows(args.out, labels, ours, entries)}")
    print_targets(our_score)
    return 0


def print_targets(result: Score) -> None:
    misses = [f"{s} P={_pct(v.precision).strip()} R={_pct(v.recall).strip()}"
              for s, v in sorted(result.symptoms.items())
              if (v.precision or 0) < 0.95 or (v.support and (v.recall or 0) < 0.95)]
    if result.false_alarm_runs:
        misses.append(f"{result.false_alarm_runs} false alarm(s) on healthy runs")
    if (result.top1_accuracy or 0) < 0.85:
        misses.append(f"top-1 cause {_pct(result.top1_accuracy).strip()} < 0.85")
    if (result.top3_accuracy or 0) < 0.95:
        misses.append(f"top-3 cause {_pct(result.top3_accuracy).strip()} < 0.95")
    print("targets: " + ("all met" if not misses else "NOT met: " + "; ".join(misses)))


if __name__ == "__main__":
    sys.exit(main())
