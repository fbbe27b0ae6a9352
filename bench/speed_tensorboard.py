"""Diagnosing a TensorBoard log of 1,000,000 scalar events against loading it with tbparse.

The event file is written by torch's real SummaryWriter. Each contender runs as its own
process (wall time from os.wait4): `diagnose DIR --format json` against tbparse's
`SummaryReader(DIR).scalars`, the usual way to get TensorBoard scalars into pandas.
Target (issue 6): diagnose at least 5x faster. A test asserts both read the same values.

    python bench/speed_tensorboard.py [--events 1000000] [--repeat 3] [--keep]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed_csv import race  # noqa: E402

TARGET_SPEEDUP = 5.0


def write_events(folder: Path, events: int) -> None:
    """A plausible run: loss and grad norm every step, LR every 100 steps."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(folder))
    steps = events * 100 // 201  # 2 tags per step plus one every 100 steps
    for step in range(steps):
        writer.add_scalar("train/loss", 2.0 * math.exp(-step / steps * 5) + 0.3 + 0.05 * math.sin(step), step)
        writer.add_scalar("train/grad_norm", 1.0 + 0.2 * math.cos(step / 7), step)
        if step % 100 == 0:
            writer.add_scalar("train/lr", 3e-4 * (1 - step / steps), step)
    writer.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; the best counts")
    parser.add_argument("--keep", action="store_true", help="keep the generated event file")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="diagnose-tb-"))
    print(f"writing {args.events:,} scalar events with SummaryWriter to {folder} ...", flush=True)
    start = time.perf_counter()
    write_events(folder, args.events)
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"written in {time.perf_counter() - start:.0f} s, {size / 1e6:.0f} MB")
    contenders = {
        "tbparse": [sys.executable, "-c",
                    f"from tbparse import SummaryReader; SummaryReader({str(folder)!r}).scalars"],
        "diagnose": [sys.executable, "-m", "diagnose", str(folder), "--format", "json", "--fail-on", "never"],
    }
    results = race(contenders, args.repeat, warm_up=False)  # tbparse takes 30 s a run
    if results is None:
        return 1
    seconds = {label: best for label, (best, _) in results.items()}
    speedup = seconds["tbparse"] / seconds["diagnose"]
    verdict = "met" if speedup >= TARGET_SPEEDUP else "NOT met"
    print(f"diagnose is {speedup:.1f}x faster than tbparse (target >= {TARGET_SPEEDUP:g}x: {verdict})")
    if not args.keep:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
