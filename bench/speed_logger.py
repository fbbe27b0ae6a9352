"""Per-step overhead of diagnose.torch.GradientLogger on a small model (needs torch).

Both loops run the same seeded training, alternated over several rounds; the best round of
each counts, so noise from other processes does not land on one side only.

    python bench/speed_logger.py [--steps 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from diagnose.torch import GradientLogger


def train(steps: int, log_to: Path | None) -> float:
    """Seconds per step of a 3-layer MLP on random data, with or without the logger."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(128, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(64, 128), torch.randint(0, 10, (64,))
    logger = GradientLogger(model, log_to) if log_to else None
    start = time.perf_counter()
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        if logger:
            logger.step(loss, optimizer)
        optimizer.step()
    elapsed = time.perf_counter() - start
    if logger:
        logger.close()
    return elapsed / steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = Path(tempfile.mkdtemp())
    bare, logged = [], []
    for _ in range(args.rounds):
        bare.append(train(args.steps, None))
        logged.append(train(args.steps, folder / "metrics.csv"))
    base, with_logger = min(bare), min(logged)
    print(f"per step: {1e6 * base:.0f} us without the logger, {1e6 * with_logger:.0f} us with it: "
          f"+{1e6 * (with_logger - base):.0f} us ({100 * (with_logger / base - 1):.1f}%) for "
          f"loss, global and 6 per-layer grad norms, LR, written to CSV")
    return 0


if __name__ == "__main__":
    sys.exit(main())
