"""Speed and memory of `diagnose` on a large JSON Lines log against `pandas.read_json(lines=True)`.

Each contender runs as its own process (see speed_csv.race). No target in an issue: the figure
tells a user what a long wandb-history.jsonl or trainer dump costs.

    python bench/speed_jsonl.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_csv import race  # noqa: E402


def write_log(path: Path, rows: int, seed: int = 0) -> None:
    """Trainer-style lines: step, loss, grad_norm, lr, and an eval loss every 1,000 steps."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        for step in range(rows):
            line = {"step": step, "loss": 2.0 * np.exp(-5 * step / rows) + 0.3 + 0.05 * rng.standard_normal(),
                    "grad_norm": abs(1.0 + 0.2 * rng.standard_normal()), "lr": 3e-4}
            if step % 1000 == 0:
                line["eval"] = {"loss": line["loss"] + 0.1}
            handle.write(json.dumps(line) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="diagnose-bench-") as folder:
        log = Path(folder) / "run.jsonl"
        print(f"writing {args.rows:,} lines to {log} ...", flush=True)
        write_log(log, args.rows)
        print(f"file size: {log.stat().st_size / 1e6:.0f} MB")
        results = race({
            "pandas.read_json": [sys.executable, "-c", f"import pandas; pandas.read_json({str(log)!r}, lines=True)"],
            "diagnose": [sys.executable, "-m", "diagnose", str(log), "--format", "json", "--fail-on", "never"],
        }, args.repeat, warm_up=True)
    if results is None:
        return 1
    (base_t, base_m), (ours_t, ours_m) = results["pandas.read_json"], results["diagnose"]
    print(f"ratio diagnose / read_json: time {ours_t / base_t:.2f}x, memory {ours_m / base_m:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
