"""Ledger benchmark: the single-transfer path with 1, 4, 8 clients, the batch path, and today's design as baseline.

For SQLite and PostgreSQL, with a history of 1,000 and 1,000,000 settled transfers (generated in one
INSERT ... SELECT), a hot account on one side of half of all transfers, in the same run and
alternating between the history sizes (one worker process and database per size, so the load of a
shared machine falls on every size alike), the median of several rounds of:

- baseline: today's per-transfer design (issue 15: insert pending, then one transaction per pending
  transfer up to one's own, ledger.settlement), 1 and 8 concurrent client processes;
- single: transfer_create() on the batch settler (ledger.batch), 1, 4 and 8 concurrent client processes;
- batch: transfers_create_many() with 1,000 transfers per call (validate, insert, settle), one client;
- settle_orm / settle_raw: one settle_batch() of 1,000 pending transfers on the ORM vs in raw SQL.

Loopback only; its own SQLite files and its own PostgreSQL databases (created and dropped). Ends with
the targets of issue 16 and whether each is met.

    .venv/bin/python bench/bench_ledger.py            # 1k / 1M history
    .venv/bin/python bench/bench_ledger.py --quick    # 1k / 100k history, fewer rounds
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
# (mode, clients): what one round measures, in this order.
ROUND = [
    ("baseline", 1),
    ("single", 1),
    ("single", 4),
    ("single", 8),
    ("baseline", 8),
    ("batch", 1),
    ("settle_orm", 1),
    ("settle_case", 1),
    ("settle_raw", 1),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k / 100k history and 2 rounds")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per measurement (default 3, quick 2)")
    parser.add_argument("--big", type=int, default=None, help="the large history size (default 1,000,000)")
    args = parser.parse_args()
    big = args.big or (100_000 if args.quick else 1_000_000)
    sizes = [1_000, big]
    rounds = args.rounds or (2 if args.quick else 3)
    plans = {
        "sqlite": {"transfers": 6000, "cap": 2.0, "batches": 5},
        "postgres": {"transfers": 4000, "cap": 3.0, "batches": 5},
    }
    # A Redis of its own, as a site has (the settler counts settled transfers there for the operations
    # page): without one each count would try the default embedded socket and log its failure.
    from switchboard.embedded_redis import RedisProcess

    redis_dir = tempfile.TemporaryDirectory(prefix="ledger-bench-redis-")
    redis_server = RedisProcess(data_dir=Path(redis_dir.name), unix_socket=Path(redis_dir.name) / "redis.sock").start()
    os.environ["REDIS_URL"] = redis_server.url  # the workers inherit it
    results = {}
    try:
        for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
            print(f"== {db}", flush=True)
            results[db] = run_database(db, sizes, plans[db], rounds)
    finally:
        redis_server.stop()
        redis_dir.cleanup()
    report(results, sizes)


def run_database(kind: str, sizes: list[int], plan: dict, rounds: int) -> dict:
    workers: dict[int, Worker] = {}
    tmp = tempfile.TemporaryDirectory(prefix="ledger-bench-") if kind == "sqlite" else None
    try:
        for size in sizes:
            workers[size] = Worker(kind, size, tmp.name if tmp else None)
        rows: dict[int, dict] = {size: {} for size in sizes}
        for size, worker in workers.items():  # one load at a time
            seconds = worker.ask(cmd="load", rows=size)["load_s"]
            rows[size].update(load_s=seconds)
            print(f"  history {size:,}: generated in {seconds:.1f} s", flush=True)
        measured: dict[tuple[int, str], list[float]] = {}
        for n in range(rounds):
            for step, (mode, clients) in enumerate(ROUND):
                order = list(workers.items())
                for size, worker in order if (n + step) % 2 else reversed(order):  # alternate between the sizes
                    count = (
                        plan["batches"]
                        if mode in ("batch", "settle_orm", "settle_case", "settle_raw")
                        else plan["transfers"]
                    )
                    answer = worker.ask(
                        cmd="measure", mode=mode, clients=clients, count=count, cap=plan["cap"], seed=100 * n + step
                    )
                    measured.setdefault((size, f"{mode}_{clients}"), []).append(answer["rate"])
            print(f"  round {n + 1}/{rounds} done", flush=True)
        for (size, key), rates in measured.items():
            rows[size][key] = statistics.median(rates)
        for size in sizes:
            print(f"  history {size:>9,}: " + " ".join(f"{k} {rows[size][k]:,.0f}/s" for k in _keys()), flush=True)
        return {str(size): row for size, row in rows.items()}
    finally:
        for worker in workers.values():
            worker.close()
        if tmp:
            tmp.cleanup()


def _keys() -> list[str]:
    return [f"{mode}_{clients}" for mode, clients in ROUND]


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
    print("transfers per second, median of rounds (hot account on one side of 50 % of transfers)")
    names = {
        "baseline_1": "today 1c",
        "baseline_8": "today 8c",
        "single_1": "single 1c",
        "single_4": "single 4c",
        "single_8": "single 8c",
        "batch_1": "batch API",
        "settle_orm_1": "settle ORM",
        "settle_case_1": "settle Case",
        "settle_raw_1": "settle raw",
    }
    print(f"{'db':<9}{'history':>10}" + "".join(f"{names[k]:>12}" for k in _keys()))
    for db, by_size in results.items():
        for size in sizes:
            r = by_size[str(size)]
            print(f"{db:<9}{size:>10,}" + "".join(f"{r[k]:>12,.0f}" for k in _keys()))
    print()
    batch_target = {"sqlite": 20_000, "postgres": 10_000}
    for db, by_size in results.items():
        checks = []
        for size in sizes:
            r = by_size[str(size)]
            one = r["single_1"]
            checks.append(
                (
                    f"@{size:,} 4c/1c {r['single_4'] / one:.2f} and 8c/1c {r['single_8'] / one:.2f}",
                    "more clients never slower than one",
                    min(r["single_4"], r["single_8"]) >= one,
                )
            )
            if db == "postgres":
                ratio = r["single_8"] / r["baseline_1"]
                checks.append((f"@{size:,} single 8c / today 1c {ratio:.1f}x", "target >= 3x", ratio >= 3))
            checks.append(
                (
                    f"@{size:,} batch API {r['batch_1']:,.0f}/s",
                    f"target >= {batch_target[db]:,}/s",
                    r["batch_1"] >= batch_target[db],
                )
            )
            checks.append(
                (f"@{size:,} settle ORM/raw {r['settle_orm_1'] / r['settle_raw_1']:.2f}", "the ORM's cost", None)
            )
        lo, hi = by_size[str(small)], by_size[str(big)]
        for key in ("single_1", "single_8", "batch_1"):
            ratio = hi[key] / lo[key]
            checks.append((f"{key} @{big:,}/@{small:,} {ratio:.2f}", "flat: target >= 0.75", ratio >= 0.75))
        for text, target, ok in checks:
            print(f"  {db:<9}{text:<52}{target:<38}{'(figure)' if ok is None else 'met' if ok else 'NOT MET'}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
