"""Time-bounded mutation fuzzing of the format autodetector, every reader and the rule engine.

Seeds are the real logs in tests/data/real_logs (and sample_logs/); each input is a seed cut,
spliced, bit-flipped, line-shuffled or filled with odd numbers. Every input must give a
report or an InputError; anything else is a crash, printed with the input that caused it.

    python bench/fuzz.py [--seconds 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

from diagnose.api import diagnose_run
from diagnose.errors import DiagnoseError
from diagnose.rules import load_rules

ROOT = Path(__file__).resolve().parents[1]
ODD_NUMBERS = [b"nan", b"NaN", b"-inf", b"inf", b"1e308", b"-1e308", b"5e-324", b"", b"0", b"-0",
               b"1e400", b"0x1p3", b"tensor(2.3)", b"\xef\xbb\xbf", b"\x00", b"\r\n", b'"', b"{", b"|"]


def seeds() -> list[tuple[str, bytes]]:
    files = [p for p in (ROOT / "tests" / "data" / "real_logs").rglob("*") if p.is_file() and p.name != "SOURCES.md"]
    files += [p for p in (ROOT / "sample_logs").glob("*") if p.suffix in (".csv", ".jsonl", ".log")]
    return [(p.name, p.read_bytes()[:200_000]) for p in files]


def mutate(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    choice = rng.randrange(6)
    if not data:
        return rng.choice(ODD_NUMBERS)
    at = rng.randrange(len(data))
    if choice == 0:
        return data[:at]  # a crashed writer
    if choice == 1:
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        return bytes(flipped)
    if choice == 2:
        return data[:at] + rng.choice(ODD_NUMBERS) + data[at + rng.randint(0, 8):]
    if choice == 3:
        lines = data.split(b"\n")
        head, body = lines[:1], lines[1:]
        rng.shuffle(body)
        return b"\n".join(head + body[: rng.randint(0, len(body))])
    if choice == 4:
        other = rng.choice(pool)
        return data[:at] + other[rng.randrange(len(other) or 1):][:2000]
    return data + data[at:]  # a resumed run appending again


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    corpus = seeds()
    pool = [data for _, data in corpus]
    rules = load_rules()
    tried = crashes = reports = refused = 0
    deadline = time.monotonic() + args.seconds
    with tempfile.TemporaryDirectory() as folder:
        while time.monotonic() < deadline:
            name, data = rng.choice(corpus)
            case = Path(folder) / f"case{Path(name).suffix or '.log'}"
            case.write_bytes(mutate(data, rng, pool))
            tried += 1
            try:
                diagnose_run(case, rules=rules)
                reports += 1
            except DiagnoseError:
                refused += 1
            except Exception:  # noqa: BLE001 - a crash is what this looks for
                crashes += 1
                kept = Path(tempfile.gettempdir()) / f"diagnose-crash-{crashes}{case.suffix}"
                kept.write_bytes(case.read_bytes())
                print(f"CRASH on a mutation of {name} (kept as {kept}):\n{traceback.format_exc(limit=3)}")
    print(f"fuzz: {tried} inputs in {args.seconds:.0f} s from {len(corpus)} seeds: {reports} diagnosed, "
          f"{refused} refused with a one-line error, {crashes} crashes")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
