"""Speed and memory of `diagnose` on a 10-million-row CSV against a bare `pandas.read_csv`.

Each contender runs as its own process; wall time and peak RSS come from os.wait4. Target
(issue 2): diagnose takes at most 1.5x the time and 1.5x the peak memory of read_csv.

    python bench/speed_csv.py [--rows 10000000] [--keep]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_RATIO = 1.5


def write_log(path: Path, rows: int, seed: int = 0) -> None:
    """A plausible long run: decaying noisy loss, grad norm, cosine LR, in 1M-row chunks."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        handle.write("step,loss,grad_norm,lr\n")
        for start in range(0, rows, 1_000_000):
            step = np.arange(start, min(rows, start + 1_000_000))
            t = step / rows
            loss = 2.0 * np.exp(-5 * t) + 0.3 + 0.05 * rng.standard_normal(len(step))
            grad = np.abs(1.0 + 0.2 * rng.standard_normal(len(step)))
            lr = 3e-4 * 0.5 * (1 + np.cos(np.pi * t))
            block = np.column_stack([step, loss, grad, lr])
            np.savetxt(handle, block, fmt=["%d", "%.5f", "%.5f", "%.6g"], delimiter=",")


def measure(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB and exit code of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def race(contenders: dict[str, list[str]], repeat: int, warm_up: bool) -> dict[str, tuple[float, float]] | None:
    """Best wall seconds and lowest peak RSS (MB) of each command over `repeat` rounds that
    alternate the contenders, so both see the same machine; None if one fails.

    On a VM whose host backs guest memory lazily the first touch of fresh pages costs seconds
    and varies run to run: `warm_up` runs one unmeasured round first.
    """
    runs: dict[str, list[tuple[float, float]]] = {label: [] for label in contenders}
    for round_ in range(repeat + int(warm_up)):
        for label, command in contenders.items():
            elapsed, peak_mb, code = measure(command)
            if code != 0:
                print(f"{label}: exited with {code}")
                return None
            if round_ or not warm_up:
                runs[label].append((elapsed, peak_mb))
    results = {}
    width = max(map(len, contenders))
    for label, measured in runs.items():
        results[label] = (min(t for t, _ in measured), min(m for _, m in measured))
        spread = ", ".join(f"{t:.2f}" for t, _ in measured)
        print(f"{label:>{width}}: {results[label][0]:6.2f} s   peak RSS {results[label][1]:7.0f} MB   (runs: {spread} s)")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per contender; the best counts")
    parser.add_argument("--keep", action="store_true", help="keep the generated CSV")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="diagnose-bench-"))
    log = folder / "run.csv"
    print(f"writing {args.rows:,} rows to {log} ...", flush=True)
    write_log(log, args.rows)
    print(f"file size: {log.stat().st_size / 1e6:.0f} MB")
    contenders = {
        "pandas.read_csv": [sys.executable, "-c", f"import pandas; pandas.read_csv({str(log)!r})"],
        "diagnose": [sys.executable, "-m", "diagnose", str(log), "--format", "json", "--fail-on", "never"],
    }
    results = race(contenders, args.repeat, warm_up=True)
    if results is None:
        return 1
    (base_t, base_m), (ours_t, ours_m) = results["pandas.read_csv"], results["diagnose"]
    time_ratio, mem_ratio = ours_t / base_t, ours_m / base_m
    verdict = "met" if time_ratio <= TARGET_RATIO and mem_ratio <= TARGET_RATIO else "NOT met"
    print(f"ratio diagnose / read_csv: time {time_ratio:.2f}x, memory {mem_ratio:.2f}x "
          f"(target <= {TARGET_RATIO}x: {verdict})")
    if not args.keep:
        log.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
