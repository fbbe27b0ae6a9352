"""A sweep of 1,000 runs of 10,000 steps each, diagnosed as one folder (target: < 60 s).

    python bench/speed_sweep.py [--runs 1000] [--steps 10000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_SECONDS = 60.0


def write_sweep(folder: Path, runs: int, steps: int, seed: int = 0) -> None:
    """Runs of a hyper-parameter sweep: most converge, some spike, some go NaN."""
    rng = np.random.default_rng(seed)
    step = np.arange(steps)
    for index in range(runs):
        loss = 2.0 * np.exp(-step / rng.uniform(500, 3000)) + 0.3 + 0.05 * rng.standard_normal(steps)
        grad = np.abs(1.0 + 0.2 * rng.standard_normal(steps))
        if index % 10 == 1:
            at = rng.integers(steps // 4, steps // 2)
            loss[at:] *= 5
            grad[at - 5 :] *= 50
        if index % 10 == 2:
            loss[rng.integers(steps // 2, steps):] = np.nan
        run = folder / f"run_{index:04d}"
        run.mkdir()
        with open(run / "metrics.csv", "w") as handle:
            handle.write("step,loss,grad_norm,lr\n")
            np.savetxt(handle, np.column_stack([step, loss, grad, np.full(steps, 3e-4)]),
                       fmt=["%d", "%.5f", "%.5f", "%g"], delimiter=",")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="diagnose-sweep-"))
    try:
        print(f"writing {args.runs} runs x {args.steps:,} steps to {folder} ...", flush=True)
        write_sweep(folder, args.runs, args.steps)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "diagnose", str(folder), "--format", "json",
                                 "--fail-on", "never"], capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            print(result.stderr)
            return 1
        report = json.loads(result.stdout)
        statuses = [run["status"] for run in report["runs"]]
        print(f"diagnosed {len(statuses)} runs in {elapsed:.1f} s "
              f"({1000 * elapsed / len(statuses):.1f} ms per run): "
              + ", ".join(f"{s} {statuses.count(s)}" for s in ("healthy", "warning", "failed")))
        verdict = "met" if elapsed < TARGET_SECONDS else "NOT met"
        print(f"target < {TARGET_SECONDS:.0f} s for {args.runs} runs: {verdict}")
    finally:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
