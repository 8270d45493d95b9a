"""Where a benchmark server's pauses and memory go: its garbage collections, and its objects by type.

Installed by the benchmark servers when BENCH_CENSUS is set (``bench_chat.py --census``): every
collection that takes over 20 ms is logged to stderr, and SIGUSR1 prints the objects the collector
tracks, by type, with their count and size per client (BENCH_CENSUS is the number of clients).
"""

from __future__ import annotations

import collections
import gc
import os
import signal
import sys
import time


def install() -> None:
    """Log slow collections and print the census on SIGUSR1, if BENCH_CENSUS is set (else nothing)."""
    clients = int(os.environ.get("BENCH_CENSUS") or 0)
    if not clients:
        return
    started = [0.0]

    def timing(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = time.perf_counter() - started[0]
        if took > 0.02:
            say(f"gc generation {info['generation']} took {took:.3f} s, freed {info['collected']} objects")

    gc.callbacks.append(timing)
    signal.signal(signal.SIGUSR1, lambda *_: census(clients))


def census(clients: int, top: int = 15) -> None:
    objects = gc.get_objects()
    counts: collections.Counter[str] = collections.Counter()
    sizes: collections.Counter[str] = collections.Counter()
    for obj in objects:
        name = type(obj).__qualname__
        counts[name] += 1
        sizes[name] += sys.getsizeof(obj)
    total = sum(sizes.values())
    per_client = total / clients / 1024
    say(f"{len(objects):,} objects tracked, {total / 2**20:.0f} MiB; per client ({clients:,}): {per_client:.1f} KiB")
    say(f"{'type':28} {'count':>10} {'KiB':>9} {'per client':>10} {'B/client':>9}")
    for name, size in sizes.most_common(top):
        count = counts[name]
        say(f"{name:28} {count:>10,} {size / 1024:>9,.0f} {count / clients:>10.1f} {size / clients:>9.0f}")


def say(line: str) -> None:
    print(f"census: {line}", file=sys.stderr, flush=True)
