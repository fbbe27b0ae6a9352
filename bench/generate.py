"""Generate the labeled benchmark corpus: really train small torch models on CPU, one injected
fault per run (or none), write each run's log, and label it from its logged numbers.

    python bench/generate.py [--jobs 2] [--only FAULT] [--out bench/corpus]

Writes the logs, `manifest.json` and `README.md` under the output folder and prints a summary.
Exit code 1 if a run's numbers do not show what its fault should cause (or a healthy run shows
a symptom): such a run needs another setting, not a label on intent.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import faults, labels, models, readback, schedules, train, writers
from bench.corpus_readme import readme

DEFAULT_OUT = Path(__file__).resolve().parent / "corpus"


def generate_one(job: tuple[dict, str]) -> dict:
    """Train one run, write its log, then label it; returns its manifest entry."""
    spec, out = job
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    trace = train.run(spec)
    path = writers.write(trace, Path(out) / spec["fault"] / spec["id"], spec["format"], spec["style"])
    entry = describe(spec, trace, str(path.relative_to(out)))
    entry["seconds"] = round(time.perf_counter() - start, 2)
    return label(entry, Path(out))


def describe(spec: dict, trace: train.Trace, file: str) -> dict:
    """The manifest entry of a run, before its labels."""
    data = spec["data"]
    return {
        "id": spec["id"], "file": file, "format": spec["format"], "fault": spec["fault"],
        "symptoms": [], "causes": faults.FAULTS[spec["fault"]]["causes"],
        "num_classes": trace.num_classes, "seed": spec["seed"],
        "model": models.describe(spec["model"]),
        "optimizer": f"{spec['optimizer']['name']}, lr {schedules.describe(spec['lr'])}"
                     + (f", clip {spec['clip']:g}" if spec.get("clip") else ""),
        "dataset": data["name"] + (f" (n_train={data['n_train']})" if "n_train" in data else ""),
        "loss_fn": spec["loss"], "logged_steps": len(trace.steps), "measured": {},
    }


def label(entry: dict, out: Path) -> dict:
    """Measure the run's log as written (the file, not the trainer's memory) and label it."""
    logged = readback.read(out / entry["file"])
    measured = labels.measure(logged.steps, logged.loss, logged.grad_norm, logged.val_steps,
                              logged.val_loss, logged.layers, entry["num_classes"])
    entry["symptoms"] = labels.symptoms(measured, logged.steps)
    entry["measured"] = _readable(measured, logged.steps)
    return entry


def _readable(measured: dict, steps) -> dict:
    """Row indices become steps (`*_row` -> `*_step`); floats keep 4 significant digits."""
    out = {}
    for key, value in measured.items():
        if key.endswith("_row"):
            key = key[:-4] + "_step"
            value = None if value is None else int(steps[min(value, len(steps) - 1)])
        elif isinstance(value, float):
            value = float(f"{value:.4g}") if math.isfinite(value) else None
        out[key] = value
    return out


def check(entry: dict) -> tuple[str, str] | None:
    """("inconsistent", why) if the numbers contradict the run's fault: a healthy run that shows
    a symptom, a fault run that shows none. ("relabelled", why) if a fault run shows symptoms
    other than the ones its fault usually causes: kept, labelled with what it shows."""
    shown = {s["symptom"] for s in entry["symptoms"]}
    expect = faults.FAULTS[entry["fault"]]["expect"]
    if not expect and shown:
        return "inconsistent", f"healthy run shows {sorted(shown)}"
    if expect and not shown:
        return "inconsistent", f"shows no symptom, expected one of {sorted(expect)}"
    if expect and not shown & expect:
        return "relabelled", f"shows {sorted(shown)}, not one of {sorted(expect)}"
    return None


def run_all(specs: list[dict], out: Path, jobs: int) -> list[dict]:
    # longest first, so the pool does not end waiting on one long run
    ordered = sorted(specs, key=_cost, reverse=True)
    work = [(spec, str(out)) for spec in ordered]
    if jobs <= 1:
        entries = [generate_one(w) for w in work]
    else:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            entries = list(pool.imap_unordered(generate_one, work))
    order = {spec["id"]: i for i, spec in enumerate(specs)}
    return sorted(entries, key=lambda e: order[e["id"]])


def _cost(spec: dict) -> float:
    per_step = 15.0 if spec["model"]["kind"] == "rnn" else 1.0
    return spec["steps"] * per_step


def merge(out: Path, entries: list[dict], only: set[str] | None) -> list[dict]:
    """With --only, keep the other faults' entries of the existing manifest."""
    manifest = out / "manifest.json"
    if only is None or not manifest.exists():
        return entries
    kept = [e for e in json.loads(manifest.read_text())["runs"] if e["fault"] not in only]
    order = [f.__name__ for f in faults.CATALOG]
    return sorted(kept + entries, key=lambda e: (order.index(e["fault"]), e["id"]))


def clear(out: Path, only: set[str] | None) -> None:
    """Remove the old logs this invocation regenerates (a renamed run leaves no stale file)."""
    if not out.exists():
        return
    folders = [out / f for f in only] if only else [p for p in out.iterdir() if p.is_dir()]
    for folder in folders:
        for path in folder.glob("*") if folder.exists() else []:
            if path.suffix in (".csv", ".jsonl"):
                path.unlink()


def summary(entries: list[dict]) -> str:
    rows = []
    for fault in [f.__name__ for f in faults.CATALOG]:
        runs = [e for e in entries if e["fault"] == fault]
        if not runs:
            continue
        symptoms = Counter(s["symptom"] for e in runs for s in e["symptoms"])
        formats = Counter(e["format"] for e in runs)
        label_text = ", ".join(f"{s} {n}" for s, n in symptoms.most_common()) or "-"
        format_text = ", ".join(f"{f} {n}" for f, n in sorted(formats.items()))
        rows.append((fault, str(len(runs)), label_text, format_text))
    rows.append(("total", str(len(entries)), "", ""))
    widths = [max(len(r[i]) for r in rows + [("fault", "runs", "labels", "formats")]) for i in range(4)]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    return "\n".join([line(("fault", "runs", "labels", "formats")), line(["-" * w for w in widths])]
                     + [line(r) for r in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the labeled benchmark corpus.")
    parser.add_argument("--only", help="regenerate only these faults' runs (comma-separated)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--verbose", action="store_true", help="print every run's measurements")
    parser.add_argument("--seed-offset", type=int, default=0,
                        help="add this to every run's seed: a held-out corpus to check that a detector "
                             "change generalises beyond the runs it was tuned on (use with --out)")
    parser.add_argument("--relabel", action="store_true",
                        help="no training: measure and label the existing logs again (after a labels.py change)")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    if only and only - set(faults.FAULTS):
        parser.error(f"unknown fault(s) {sorted(only - set(faults.FAULTS))}; known: {', '.join(faults.FAULTS)}")
    start = time.perf_counter()
    if args.relabel:
        entries = [label(e, args.out) for e in json.loads((args.out / "manifest.json").read_text())["runs"]
                   if only is None or e["fault"] in only]
    else:
        clear(args.out, only)
        specs = [{**spec, "seed": spec["seed"] + args.seed_offset} for spec in faults.catalog(only)]
        entries = run_all(specs, args.out, args.jobs)
    problems = [(e["id"], *found) for e in entries if (found := check(e))]
    entries = merge(args.out, entries, only)
    total_bytes = sum((args.out / e["file"]).stat().st_size for e in entries)
    runs = [{k: v for k, v in e.items() if k != "seconds"} for e in entries]
    (args.out / "manifest.json").write_text(json.dumps({"version": 1, "runs": runs}, indent=1) + "\n")
    (args.out / "README.md").write_text(readme(entries, total_bytes))
    if args.verbose:
        for e in entries:
            if only is None or e["fault"] in only:
                print(e["id"], json.dumps(e["symptoms"]), json.dumps(e["measured"]), f"{e.get('seconds')}s")
    print(summary(entries))
    print(f"\n{len(entries)} runs, {total_bytes / 1e6:.1f} MB, generated in {time.perf_counter() - start:.0f} s")
    for run_id, kind, why in sorted(problems, key=lambda p: p[1], reverse=True):
        print(f"{kind.upper()} {run_id}: {why}")
    return 1 if any(kind == "inconsistent" for _, kind, _ in problems) else 0


if __name__ == "__main__":
    sys.exit(main())
