"""A 2 GB safetensors checkpoint scanned by `diagnose checkpoint` (targets: peak memory < 500 MB,
read rate within 2x of `cat FILE > /dev/null` on the same file).

    python bench/speed_checkpoint.py [--gib 2] [--repeats 3]

The scan runs in a child process; its peak resident memory comes from os.wait4 (ru_maxrss,
which counts file pages it maps as well as its heap). Rates are measured twice: with the file
in the page cache (warm), and after evicting it with posix_fadvise(DONTNEED) before each read
of either reader (cold, from the disk).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MAX_RSS_MB = 500
MAX_SLOWDOWN = 2.0
ROWS, COLUMNS = 8192, 4096  # one 128 MiB float32 weight per layer

SCAN = """
import json, sys, time
start = time.perf_counter()
from diagnose.checkpoint.analyze import diagnose_checkpoints
imported = time.perf_counter()
diagnosis = diagnose_checkpoints([sys.argv[1]])
done = time.perf_counter()
run = diagnosis.report.runs[0]
print(json.dumps({"import_s": imported - start, "scan_s": done - imported, "status": run.status,
                  "tensors": len(diagnosis.scans[0].records), "torch": "torch" in sys.modules}))
"""


def write_checkpoint(path: Path, gib: float, seed: int = 0) -> int:
    """A safetensors file of float32 weights written a block at a time (never 2 GB in memory)."""
    layers = max(1, round(gib * 2**30 / (ROWS * COLUMNS * 4)))
    header, offset = {}, 0
    for layer in range(layers):
        for name, shape in ((f"layers.{layer}.weight", (ROWS, COLUMNS)), (f"layers.{layer}.bias", (ROWS,))):
            size = int(np.prod(shape)) * 4
            header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
            offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded)
        for name, entry in header.items():  # in offset order
            remaining = int(np.prod(entry["shape"]))
            scale = np.float32(np.sqrt(2 / COLUMNS) if name.endswith("weight") else 0.01)
            while remaining:
                block = min(remaining, 1 << 22)
                handle.write((rng.standard_normal(block, dtype=np.float32) * scale).tobytes())
                remaining -= block
        handle.flush()
        os.fsync(handle.fileno())
    return path.stat().st_size


def evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def time_cat(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(f"cat '{path}' > /dev/null", shell=True, check=True)
    return time.perf_counter() - start


def time_scan(path: Path) -> tuple[dict, float]:
    """Run the scan in a child; its report line, and its peak RSS in MB from wait4."""
    child = subprocess.Popen([sys.executable, "-c", SCAN, str(path)], stdout=subprocess.PIPE)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"scan failed with exit code {child.returncode}")
    return json.loads(output), usage.ru_maxrss / 1024


def measure(path: Path, cold: bool, repeats: int) -> dict:
    cats, scans, peaks = [], [], []
    for _ in range(repeats):
        if cold:
            evict(path)
        cats.append(time_cat(path))
        if cold:
            evict(path)
        report, peak = time_scan(path)
        scans.append(report["scan_s"])
        peaks.append(peak)
    return {"cat_s": statistics.median(cats), "scan_s": statistics.median(scans), "peak_mb": max(peaks),
            "report": report}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="diagnose-ckpt-"))
    try:
        path = folder / "model.safetensors"
        print(f"writing a {args.gib:g} GiB safetensors checkpoint to {path} ...", flush=True)
        size = write_checkpoint(path, args.gib)
        time_cat(path)  # warm the page cache for the warm round
        ok = True
        for cold in (False, True):
            result = measure(path, cold, args.repeats)
            cat_rate, scan_rate = size / result["cat_s"] / 1e9, size / result["scan_s"] / 1e9
            slowdown = result["scan_s"] / result["cat_s"]
            rate_ok, memory_ok = slowdown <= MAX_SLOWDOWN, result["peak_mb"] < MAX_RSS_MB
            ok &= rate_ok and memory_ok
            report = result["report"]
            print(f"{'cold (page cache evicted)' if cold else 'warm (file in page cache)'}: "
                  f"{size / 1e9:.2f} GB, {report['tensors']} tensors, verdict {report['status']}, "
                  f"torch imported: {report['torch']}, load average {os.getloadavg()[0]:.1f} "
                  f"on {os.cpu_count()} CPUs")
            print(f"  cat FILE > /dev/null  {result['cat_s']:6.2f} s  {cat_rate:5.2f} GB/s")
            print(f"  diagnose scan         {result['scan_s']:6.2f} s  {scan_rate:5.2f} GB/s  "
                  f"({slowdown:.2f}x cat; target <= {MAX_SLOWDOWN:g}x: {'met' if rate_ok else 'NOT met'})")
            print(f"  peak RSS of the scanning process  {result['peak_mb']:.0f} MB  "
                  f"(target < {MAX_RSS_MB} MB: {'met' if memory_ok else 'NOT met'}); "
                  f"imports took {report['import_s']:.2f} s, not counted in the rate")
        return 0 if ok else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
