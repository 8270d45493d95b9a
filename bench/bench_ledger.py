"""Ledger benchmark: transfers per second against a history of settled transfers, ours vs the naive recipe.

For SQLite and PostgreSQL, with a history of 1,000 / 100,000 / 1,000,000 settled transfers bulk-loaded
between ten customer accounts, it measures transfer_create() throughput sequentially and with 4
concurrent client processes: ours (the checkpoint balance check), ours_sum (the same code with the
recipe's SUM over the log as the check, LEDGER_BALANCE_SOURCE=log) and naive (the baseline: the
recipe written the plain ORM way, bench/ledger_naive.py), all in the same run. One worker process
(and database) per history size; the measurements alternate between them, and each of ours is the
median of several rounds, so the load of a shared machine falls on every size alike. Loopback only;
its own SQLite files and its own PostgreSQL databases (created and dropped). Ends with one line of ratios.

    .venv/bin/python bench/bench_ledger.py            # about 5 minutes on a busy 2-core box
    .venv/bin/python bench/bench_ledger.py --quick    # 1k / 10k / 100k history, fewer rounds
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_PREFIX = "switchboard_ledger_bench"
CUSTOMERS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller histories and fewer rounds (about a minute)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    sizes = [1_000, 10_000, 100_000] if args.quick else [1_000, 100_000, 1_000_000]
    # Ours: the median of `rounds` runs of `transfers` transfers (capped at `cap` seconds): on a shared
    # machine single rounds swing both ways (PostgreSQL's commit latency is bimodal here); SQLite rounds
    # are short, so it gets more. The baselines run one capped round each: at a large history they
    # manage only a few transfers per second.
    plans = {
        "sqlite": {"transfers": 200, "cap": 3.0, "rounds": 4 if args.quick else 10},
        "postgres": {"transfers": 100, "cap": 3.0, "rounds": 3 if args.quick else 8},
    }
    results = {}
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        print(f"== {db}", flush=True)
        results[db] = run_database(db, sizes, plans[db])
    report(results, sizes)


def run_database(kind: str, sizes: list[int], plan: dict) -> dict:
    workers: dict[int, Worker] = {}
    tmp = tempfile.TemporaryDirectory(prefix="ledger-bench-") if kind == "sqlite" else None
    try:
        for size in sizes:
            workers[size] = Worker(kind, size, tmp.name if tmp else None)
        rows: dict[int, dict] = {size: {} for size in sizes}
        for size, worker in workers.items():  # one load at a time
            seconds = worker.ask(cmd="load", rows=size - CUSTOMERS)["load_s"]
            rows[size].update(load_s=seconds, load_rate=(size - CUSTOMERS) / seconds)
            print(f"  history {size:,}: loaded in {seconds:.1f} s ({rows[size]['load_rate']:,.0f} rows/s)", flush=True)
        rounds: dict[tuple[int, str], list[float]] = {}
        schedule = [("ours", 1), ("ours", 4)] * plan["rounds"] + [("ours_sum", 1), ("naive", 1), ("naive", 4)]
        for n, (mode, clients) in enumerate(schedule):
            order = list(workers.items())
            for size, worker in order if n % 2 else reversed(order):  # alternate between the sizes
                cap = plan["cap"]
                rate = worker.ask(cmd="measure", mode=mode, clients=clients, count=plan["transfers"], cap=cap, seed=n)[
                    "rate"
                ]
                rounds.setdefault((size, f"{mode}_{'seq' if clients == 1 else '4c'}"), []).append(rate)
        for (size, key), rates in rounds.items():
            rows[size][key] = statistics.median(rates)
            rows[size][key + "_best"] = max(rates)
        for size in sizes:
            r = rows[size]
            print(
                f"  history {size:>9,}: ours seq {r['ours_seq']:6.0f}/s 4c {r['ours_4c']:6.0f}/s | "
                f"ours_sum seq {r['ours_sum_seq']:6.0f}/s | "
                f"naive seq {r['naive_seq']:6.1f}/s 4c {r['naive_4c']:6.1f}/s",
                flush=True,
            )
        return {str(size): row for size, row in rows.items()}
    finally:
        for worker in workers.values():
            worker.close()
        if tmp:
            tmp.cleanup()


class Worker:
    """A bench.ledger_worker process on a fresh database of its own."""

    def __init__(self, kind: str, size: int, tmpdir: str | None) -> None:
        self.kind, self.name = kind, f"{PG_PREFIX}_{size}"
        if kind == "sqlite":
            url = f"sqlite:///{tmpdir}/history-{size}.sqlite3"
        else:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {self.name}")
                conn.execute(f"CREATE DATABASE {self.name}")
            url = f"postgres://postgres@127.0.0.1:5432/{self.name}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONPATH": str(ROOT),
            "DEBUG": "0",  # as in production: no per-query debug recording
            "SECRET_KEY": "bench-only-not-secret",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.ledger_worker"],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, **command) -> dict:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark worker for {self.name} died (see its output above)")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        if self.kind == "postgres":
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def report(results: dict, sizes: list[int]) -> None:
    small, big = sizes[0], sizes[-1]
    print()
    print("transfers per second (ours: checkpoint check, median of rounds [best]; ours_sum: same path, SUM check;")
    print("naive: the ORM recipe)")
    print(
        f"{'db':<9}{'history':>10}{'load rows/s':>13}{'ours seq [best]':>17}{'ours 4c [best]':>16}{'ours_sum seq':>14}"
        f"{'naive seq':>11}{'naive 4c':>10}"
    )
    for db, by_size in results.items():
        for size in sizes:
            r = by_size[str(size)]
            print(
                f"{db:<9}{size:>10,}{r['load_rate']:>13,.0f}{r['ours_seq']:>10.0f} [{r['ours_seq_best']:>4.0f}]"
                f"{r['ours_4c']:>9.0f} [{r['ours_4c_best']:>4.0f}]"
                f"{r['ours_sum_seq']:>14.0f}{r['naive_seq']:>11.1f}{r['naive_4c']:>10.1f}"
            )
    print()
    parts = []
    for db, by_size in results.items():
        lo, hi = by_size[str(small)], by_size[str(big)]
        parts.append(
            f"{db}: ours@{big:,}/ours@{small:,} seq {hi['ours_seq'] / lo['ours_seq']:.2f} "
            f"4c {hi['ours_4c'] / lo['ours_4c']:.2f} (target >= 0.75), "
            f"ours seq@{big:,}/naive seq@{small:,} {hi['ours_seq'] / lo['naive_seq']:.1f}x"
            f"{' (target >= 4x)' if db == 'sqlite' else ''}, "
            f"ours/naive@{big:,} seq {hi['ours_seq'] / hi['naive_seq']:.0f}x 4c {hi['ours_4c'] / hi['naive_4c']:.0f}x"
        )
    print("RATIOS " + " | ".join(parts))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
