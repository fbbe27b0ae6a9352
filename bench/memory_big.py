"""Peak memory of `diagnose` on very large logs: a CSV and a nanoGPT-style text log of a given
size. Memory should grow only with the signals kept (float64 values and int64 steps), never
with the bytes of the file.

    python bench/memory_big.py [--csv-gb 5] [--text-gb 2]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_csv import measure  # noqa: E402

BLOCK = 1_000_000


def write_csv(path: Path, gigabytes: float) -> int:
    rng = np.random.default_rng(0)
    rows = 0
    with open(path, "w") as handle:
        handle.write("step,loss,grad_norm,lr\n")
        while handle.tell() < gigabytes * 1e9:
            step = np.arange(rows, rows + BLOCK)
            loss = 0.3 + np.exp(-step / 5e7) + 0.05 * rng.standard_normal(BLOCK)
            grad = np.abs(1 + 0.2 * rng.standard_normal(BLOCK))
            np.savetxt(handle, np.column_stack([step, loss, grad, np.full(BLOCK, 3e-4)]),
                       fmt=["%d", "%.5f", "%.5f", "%g"], delimiter=",")
            rows += BLOCK
    return rows


def write_text(path: Path, gigabytes: float) -> int:
    rng = np.random.default_rng(1)
    rows = 0
    with open(path, "w") as handle:
        while handle.tell() < gigabytes * 1e9:
            loss = 0.3 + np.exp(-np.arange(rows, rows + BLOCK) / 5e7) + 0.05 * rng.standard_normal(BLOCK)
            handle.writelines(f"iter {rows + i}: loss {v:.4f}, time 31.20ms, mfu 12.34%\n" for i, v in enumerate(loss))
            rows += BLOCK
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-gb", type=float, default=5.0)
    parser.add_argument("--text-gb", type=float, default=2.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="diagnose-big-"))
    try:
        for kind, size, writer in (("csv", args.csv_gb, write_csv), ("text", args.text_gb, write_text)):
            if size <= 0:
                continue
            path = folder / ("run.csv" if kind == "csv" else "train.log")
            print(f"writing a {size:g} GB {kind} log ...", flush=True)
            rows = writer(path, size)
            seconds, peak_mb, code = measure([sys.executable, "-m", "diagnose", str(path), "-f", "json",
                                              "--fail-on", "never"])
            file_mb = path.stat().st_size / 1e6
            print(f"{kind}: {file_mb:,.0f} MB, {rows:,} rows -> peak RSS {peak_mb:,.0f} MB "
                  f"({peak_mb / file_mb:.2f} MB per MB of file, {1e6 * peak_mb / rows:.0f} bytes per row), "
                  f"{seconds:.0f} s, exit {code}")
            path.unlink()
    finally:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
