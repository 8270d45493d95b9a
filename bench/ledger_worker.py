"""One database of the benchmark (Django configured by DATABASE_URL): loads history and measures on command.

``python -m bench.ledger_worker`` reads JSON commands on stdin (see serve()); the orchestrator,
bench_ledger.py, runs one worker per history size and alternates between them, so that the shared
machine's changing load falls on every size alike.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CUSTOMERS = 10
CLIENTS = 4
OPENING = 10**9  # each customer's deposit (the most one transfer may move): history never runs dry


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def serve() -> None:
    """Answer the orchestrator's commands, one JSON object per line on stdin, one answer per line on stdout."""
    import json

    setup_django()
    from django.core.management import call_command

    from ledger.models import Account
    from ledger.services import account_create, transfer_create

    call_command("migrate", verbosity=0)
    bank = account_create(name="bench-bank", kind=Account.Kind.SYSTEM)
    for i in range(CUSTOMERS):
        transfer_create(source=bank, target=account_create(name=f"b{i}"), amount=OPENING)
    pool = ClientPool()
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if command["cmd"] == "load":
                started = time.perf_counter()
                bulk_load(command["rows"])
                seconds = time.perf_counter() - started
                do_transfers("ours", 100, seed=9, cap=None)  # warm caches after the load, unmeasured
                pool.run("ours", 100, None)
                answer = {"load_s": seconds}
            elif command["cmd"] == "measure":
                mode, count, cap = command["mode"], command["count"], command["cap"]
                if command["clients"] == 1:
                    done, seconds = do_transfers(mode, count, seed=command["seed"], cap=cap)
                    answer = {"rate": done / seconds}
                else:
                    answer = {"rate": pool.run(mode, count, cap)}
            else:
                break
            print(json.dumps(answer), flush=True)
    finally:
        pool.close()


def bulk_load(count: int) -> None:
    """Append `count` settled transfers between the customers, with consistent balances and checkpoints."""
    if count <= 0:
        return
    from django.db import connection, transaction
    from django.utils import timezone

    from ledger.models import Account

    accounts = {a.pk: a.balance for a in Account.objects.filter(kind="customer")}
    ids = list(accounts)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(settled_seq), 0) FROM ledger_transfer")
        seq = cursor.fetchone()[0]
    rng = random.Random(count)
    base = (timezone.now() - timedelta(days=30)).replace(microsecond=0)
    sqlite = connection.vendor == "sqlite"
    columns = (
        "source_id, target_id, amount, status, created, revision, resolved, reason, settled_seq, "
        "source_balance, target_balance"
    )
    done, batch, prefixes = 0, 100_000, {}
    # Rebuilding the two per-account indexes once after the load is faster than updating them per row.
    from ledger.models import Transfer

    indexes = [
        index for index in Transfer._meta.indexes if index.name in ("ledger_tr_source_idx", "ledger_tr_target_idx")
    ]
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.remove_index(Transfer, index)
    if sqlite:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -262144")  # 256 MiB: the indexes stay in memory while loading
    pairs = [(a, b) for a in ids for b in ids if a != b]
    rand = rng.random
    while done < count:
        rows = []
        for _ in range(min(batch, count - done)):
            source, target = pairs[int(rand() * len(pairs))]
            amount = int(rand() * 10_000) + 1
            accounts[source] -= amount
            accounts[target] += amount
            seq += 1
            second, micro = divmod(seq, 1_000_000)
            if second not in prefixes:
                prefixes[second] = (base + timedelta(seconds=second)).strftime("%Y-%m-%d %H:%M:%S.")
            stamp = f"{prefixes[second]}{micro:06d}"
            rows.append(
                (source, target, amount, "successful", stamp, 2, stamp, "", seq, accounts[source], accounts[target])
            )
        with transaction.atomic(), connection.cursor() as cursor:
            if sqlite:
                cursor.executemany(f"INSERT INTO ledger_transfer ({columns}) VALUES ({', '.join(['%s'] * 11)})", rows)
            else:
                # Generated rows are consistent by construction: skip the per-row deferred FK checks.
                cursor.execute("SET LOCAL session_replication_role = replica")
                with cursor.cursor.copy(f"COPY ledger_transfer ({columns}) FROM STDIN") as copy:
                    copy.write(
                        "".join(
                            f"{r[0]}\t{r[1]}\t{r[2]}\tsuccessful\t{r[4]}+00\t2\t{r[6]}+00\t\t{r[8]}\t{r[9]}\t{r[10]}\n"
                            for r in rows
                        )
                    )
        done += len(rows)
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.add_index(Transfer, index)
    with transaction.atomic():
        for pk, balance in accounts.items():
            Account.objects.filter(pk=pk).update(balance=balance)
        if not sqlite:
            with connection.cursor() as cursor:
                cursor.execute("SELECT setval('ledger_settle_seq', %s)", [seq])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def do_transfers(mode: str, count: int, seed: int, cap: float | None) -> tuple[int, float]:
    """Make up to `count` random transfers, stopping after `cap` seconds; returns (done, seconds)."""
    from django.conf import settings

    from bench.ledger_naive import naive_transfer_create
    from ledger.models import Account
    from ledger.services import InsufficientFunds, transfer_create

    settings.LEDGER_BALANCE_SOURCE = "log" if mode == "ours_sum" else "checkpoint"
    create = naive_transfer_create if mode == "naive" else transfer_create
    accounts = list(Account.objects.filter(kind="customer"))
    rng = random.Random(seed)
    started = time.perf_counter()
    done = 0
    while done < count and (cap is None or time.perf_counter() - started < cap):
        source, target = rng.sample(accounts, 2)
        try:
            create(source=source, target=target, amount=rng.randint(1, 10_000))
        except InsufficientFunds:
            pass
        done += 1
    return done, time.perf_counter() - started


def _client(index: int, commands, results, barrier) -> None:
    import queue

    parent = os.getppid()
    setup_django()
    while True:
        try:
            command = commands.get(timeout=1)
        except queue.Empty:
            if os.getppid() != parent:  # the worker is gone: do not linger
                return
            continue
        if command is None:
            return
        mode, count, cap = command
        barrier.wait()
        results.put(do_transfers(mode, count, seed=1000 + index, cap=cap))


class ClientPool:
    """CLIENTS long-lived processes that start each measurement together, behind a barrier."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.barrier, self.results = ctx.Barrier(CLIENTS), ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(CLIENTS)]
        self.procs = [
            ctx.Process(target=_client, args=(i, q, self.results, self.barrier)) for i, q in enumerate(self.commands)
        ]
        for proc in self.procs:
            proc.start()

    def run(self, mode: str, count: int, cap: float | None) -> float:
        """count transfers in all; throughput over the slowest client's time."""
        for queue in self.commands:
            queue.put((mode, count // CLIENTS, cap))
        outcomes = [self.results.get(timeout=900) for _ in self.procs]
        return sum(done for done, _ in outcomes) / max(seconds for _, seconds in outcomes)

    def close(self) -> None:
        for queue in self.commands:
            queue.put(None)
        for proc in self.procs:
            proc.join(timeout=30)


if __name__ == "__main__":
    serve()
