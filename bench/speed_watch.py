"""Cost of one `diagnose watch` update on a 10-million-step log being appended to.

    python bench/speed_watch.py [--rows 10000000] [--append 1000] [--updates 5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed_csv import write_log  # noqa: E402

from diagnose.rules import load_rules  # noqa: E402
from diagnose.watch import Watcher  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--append", type=int, default=1000, help="rows appended between updates")
    parser.add_argument("--updates", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="diagnose-watch-"))
    try:
        log = folder / "live.csv"
        print(f"writing {args.rows:,} rows ...", flush=True)
        write_log(log, args.rows)
        start = time.perf_counter()
        watcher = Watcher(log, load_rules())
        watcher.update()
        print(f"first update (header + the last {watcher.window:,} steps): {time.perf_counter() - start:.2f} s")
        costs = []
        for update in range(args.updates):
            first = args.rows + update * args.append
            with open(log, "a") as handle:
                handle.writelines(f"{s},0.35,1.0,1e-4\n" for s in range(first, first + args.append))
            start = time.perf_counter()
            watcher.update()
            costs.append(time.perf_counter() - start)
        print(f"update after appending {args.append} rows: median {1000 * sorted(costs)[len(costs) // 2]:.0f} ms, "
              f"max {1000 * max(costs):.0f} ms (bounded by the window, not the {args.rows:,}-row file)")
    finally:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
