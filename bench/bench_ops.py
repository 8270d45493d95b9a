"""The operations page's server cost per update: one snapshot (every app's metrics + one MGET of the series)
and one ops_publish (snapshot + board notify), against a baseline of one bare board notify, interleaved.

Loopback only: its own redis-server and SQLite file, a ledger of 5,000 settled and 100 pending transfers,
4 rq queues with 200 queued jobs. Bounded: ROUNDS rounds. Prints medians, SQL queries and Redis round trips.

    .venv/bin/python bench/bench_ops.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ROUNDS = 30

from switchboard.embedded_redis import RedisProcess  # noqa: E402


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-ops-"))
    server = RedisProcess(data_dir=tmp / "redis", tcp=True).start()
    try:
        os.environ.update(
            REDIS_URL=server.tcp_url,
            DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
            DJANGO_SETTINGS_MODULE="config.settings",
        )
        import django

        django.setup()
        run()
    finally:
        server.stop()


def run() -> None:
    import redis
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from boards.interface import board_notify
    from config.ops import ops_headline, ops_publish, ops_snapshot
    from jobs.queues import queue_get
    from ledger.models import Account
    from ledger.services import account_create, transfer_create, transfer_submit

    call_command("migrate", verbosity=0)
    bank = account_create(name="bank", kind=Account.Kind.SYSTEM)
    alice = account_create(name="alice")
    for _ in range(5000):
        transfer_create(source=bank, target=alice, amount=1)
    for _ in range(100):
        transfer_submit(source=bank, target=alice, amount=1)
    queue = queue_get(name="default")
    for _ in range(200):
        queue.enqueue("jobs.builtin.noop")

    sends = {"n": 0}
    original = redis.Connection.send_packed_command

    def counting(self, command, check_health=True):
        sends["n"] += 1
        return original(self, command, check_health)

    redis.Connection.send_packed_command = counting
    value = ops_headline(ops_snapshot())
    timings: dict[str, list[float]] = {"baseline: board_notify": [], "ops_snapshot": [], "ops_publish": []}
    costs: dict[str, tuple[int, int]] = {}
    steps = {
        "baseline: board_notify": lambda: board_notify(name="ops-bench", value=value, private=True),
        "ops_snapshot": ops_snapshot,
        "ops_publish": ops_publish,
    }
    for _ in range(ROUNDS):
        for name, step in steps.items():  # interleaved: the machine's load hits all alike
            before = sends["n"]
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                step()
                timings[name].append(time.perf_counter() - started)
            costs[name] = (len(queries), sends["n"] - before)
    base = statistics.median(timings["baseline: board_notify"])
    print(f"{'step':<24} {'median ms':>10} {'ratio':>7} {'SQL':>4} {'Redis round trips':>18}")
    for name, values in timings.items():
        median = statistics.median(values)
        sql, trips = costs[name]
        print(f"{name:<24} {1000 * median:>10.2f} {median / base:>7.1f} {sql:>4} {trips:>18}")


if __name__ == "__main__":
    main()
