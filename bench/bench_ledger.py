"""Ledger benchmark: transfers per second against a history of settled transfers, ours vs the naive recipe.

For SQLite and PostgreSQL, with a history of 1,000 / 100,000 / 1,000,000 settled transfers bulk-loaded
between ten customer accounts, it measures transfer_create() throughput sequentially and with 4
concurrent client processes, twice: with the checkpoint balance check (ours), and with the recipe's
naive check, the SUM of the sender's successful transfers over the whole log (LEDGER_BALANCE_SOURCE=log),
measured in the same run as the baseline. Loopback only; its own SQLite file and its own PostgreSQL
database (created and dropped). Ends with one line of ratios.

    .venv/bin/python bench/bench_ledger.py            # about 5 minutes on a busy 2-core box
    .venv/bin/python bench/bench_ledger.py --quick    # 1k / 10k / 100k history, fewer transfers
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "switchboard_ledger_bench"
CUSTOMERS = 10
CLIENTS = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller histories and fewer transfers (under a minute)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one database's measurements
    args = parser.parse_args()
    sizes = [1_000, 10_000, 100_000] if args.quick else [1_000, 100_000, 1_000_000]
    # Each figure is the best of `rounds` runs of up to `transfers` transfers or `cap_s` seconds (the
    # machine is shared: the best round is the one least disturbed); the baselines run one round.
    plan = {"sizes": sizes, "transfers": 200, "cap_s": 2.0 if args.quick else 4.0, "rounds": 2 if args.quick else 3}
    if args.worker:
        from bench.ledger_worker import run_database

        print(json.dumps(run_database(plan)), flush=True)
        return

    results = {}
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        with database(db) as url:
            print(f"== {db}: {url}", flush=True)
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "PYTHONPATH": str(ROOT),
            }
            env.pop("REDIS_URL", None)
            out = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--worker", db, *(["--quick"] if args.quick else [])],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                text=True,
                check=True,
            )
            results[db] = json.loads(out.stdout.strip().splitlines()[-1])
    report(results, sizes)


class database:
    """A fresh database for one run: a temporary SQLite file, or a PostgreSQL database created and dropped."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __enter__(self) -> str:
        if self.kind == "sqlite":
            self.tmp = tempfile.TemporaryDirectory(prefix="ledger-bench-")
            return f"sqlite:///{self.tmp.name}/bench.sqlite3"
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB}")
            conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")
        return f"postgres://postgres@127.0.0.1:5432/{PG_BENCH_DB}"

    def __exit__(self, *exc) -> None:
        if self.kind == "sqlite":
            self.tmp.cleanup()
            return
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")


def report(results: dict, sizes: list[int]) -> None:
    small, big = sizes[0], sizes[-1]
    print()
    print("transfers per second (ours: checkpoint check; ours_sum: same path, SUM check; naive: the ORM recipe)")
    header = f"{'db':<9}{'history':>10}{'load rows/s':>13}"
    for mode in ("ours", "ours_sum", "naive"):
        header += f"{mode + ' seq':>14}{mode + ' 4c':>13}"
    print(header)
    for db, by_size in results.items():
        for size in sizes:
            r = by_size[str(size)]
            line = f"{db:<9}{size:>10,}{r['load_rate']:>13,.0f}"
            for mode in ("ours", "ours_sum", "naive"):
                line += f"{r[mode + '_seq']:>14.0f}" + (
                    f"{r[mode + '_4c']:>13.0f}" if mode + "_4c" in r else f"{'-':>13}"
                )
            print(line)
    print()
    parts = []
    for db, by_size in results.items():
        lo, hi = by_size[str(small)], by_size[str(big)]
        parts.append(
            f"{db}: ours@{big:,}/ours@{small:,} seq {hi['ours_seq'] / lo['ours_seq']:.2f} "
            f"4c {hi['ours_4c'] / lo['ours_4c']:.2f} (target >= 0.75), "
            f"ours seq@{big:,}/naive seq@{small:,} {hi['ours_seq'] / lo['naive_seq']:.1f}x (target >= 4x on sqlite), "
            f"ours/naive seq@{big:,} {hi['ours_seq'] / hi['naive_seq']:.0f}x, 4c {hi['ours_4c'] / hi['naive_4c']:.0f}x"
        )
    print("RATIOS " + " | ".join(parts))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
