"""One database of the benchmark (Django configured by DATABASE_URL): loads history and measures on command.

``python -m bench.ledger_worker`` reads JSON commands on stdin (see serve()); the orchestrator,
bench_ledger.py, runs one worker per history size and alternates between them, so that the shared
machine's changing load falls on every size alike.

Accounts: a system bank, CUSTOMERS customers and one hot customer account ("hot", a merchant or fee
account) on one side of half of all transfers, in the history and in every measurement.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CUSTOMERS = 10
OPENING = 10**9  # each account's deposit (the most one transfer may move): never runs dry
BATCH = 1000


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def serve() -> None:
    """Answer the orchestrator's commands, one JSON object per line on stdin, one answer per line on stdout."""
    import json

    setup_django()
    from django.core.management import call_command

    from ledger.models import Account
    from ledger.services import account_create, transfer_create

    call_command("migrate", verbosity=0)
    bank = account_create(name="bench-bank", kind=Account.Kind.SYSTEM)
    for name in ["hot", *(f"b{i}" for i in range(CUSTOMERS))]:
        for _ in range(5):  # 5 deposits each: plenty for every measurement
            transfer_create(
                source=bank,
                target=account_create(name=name) if _ == 0 else Account.objects.get(name=name),
                amount=OPENING,
            )
    pools: dict[int, ClientPool] = {}
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if command["cmd"] == "load":
                started = time.perf_counter()
                history_load(command["rows"])
                seconds = time.perf_counter() - started
                do_transfers("single", 50, seed=9, cap=None)  # warm caches after the load, unmeasured
                do_batches("batch", 2, seed=9)
                answer = {"load_s": seconds}
            elif command["cmd"] == "measure":
                mode, clients, count, cap = command["mode"], command["clients"], command["count"], command["cap"]
                if mode in ("batch", "settle_orm", "settle_case", "settle_raw"):
                    answer = {"rate": do_batches(mode, count, seed=command["seed"])}
                elif clients == 1:
                    done, seconds = do_transfers(mode, count, seed=command["seed"], cap=cap)
                    answer = {"rate": done / seconds}
                else:
                    if clients not in pools:
                        pools[clients] = ClientPool(clients)
                    answer = {"rate": pools[clients].run(mode, count, cap)}
            else:
                break
            print(json.dumps(answer), flush=True)
    finally:
        for pool in pools.values():
            pool.close()


def history_load(count: int) -> None:
    """Append `count` settled transfers in one INSERT ... SELECT (PostgreSQL generate_series, SQLite a recursive CTE).

    Amount 1, each pair of rows moving it there and back (so the balances stay what they are), half of
    them with the hot account. The per-row checkpoints are left empty: nothing in the measured paths
    reads them (the audit would, and is not run on a benchmark database).
    """
    if count <= 0:
        return
    from django.db import connection, transaction

    from ledger.models import Account, Transfer

    ids = dict(Account.objects.values_list("name", "pk"))
    hot, customers = ids["hot"], [ids[f"b{i}"] for i in range(CUSTOMERS)]
    first, n = customers[0], len(customers)
    # Row i: pair p = i // 2 (hot with customer p % n when p is even, else customers p % n and (p+1) % n),
    # odd rows reverse their pair.
    a = f"CASE WHEN (i / 2) % 2 = 0 THEN {hot} ELSE {first} + ((i / 2) % {n}) END"
    b = f"{first} + (((i / 2) + 1) % {n})"
    source, target = f"CASE WHEN i % 2 = 0 THEN {a} ELSE {b} END", f"CASE WHEN i % 2 = 0 THEN {b} ELSE {a} END"
    indexes = [i for i in Transfer._meta.indexes if i.name in ("ledger_tr_source_idx", "ledger_tr_target_idx")]
    with connection.schema_editor() as editor:
        for index in indexes:  # rebuilding them once after the load beats updating them per row
            editor.remove_index(Transfer, index)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(settled_seq), 0) FROM ledger_transfer")
        seq = cursor.fetchone()[0]
    columns = "source_id, target_id, amount, status, created, revision, resolved, reason, settled_seq"
    if connection.vendor == "postgresql":  # a literal % is written %% next to parameters
        source, target = source.replace("%", "%%"), target.replace("%", "%%")
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")  # consistent by construction: no FK checks
            stamp = "now() - interval '60 days' + i * interval '1 millisecond'"
            cursor.execute(
                f"INSERT INTO ledger_transfer ({columns}) SELECT {source}, {target}, 1, 'successful', {stamp}, 2,"
                f" {stamp}, '', {seq} + 1 + i FROM generate_series(0, %s - 1) AS s(i)",
                [count],
            )
            cursor.execute("SELECT setval('ledger_settle_seq', %s)", [seq + count])
        else:
            cursor.execute("PRAGMA cache_size = -262144")  # 256 MiB: the indexes stay in memory while loading
            stamp = "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '-60 days', '+' || (i / 1000.0) || ' seconds')"
            cursor.execute(
                f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < %s - 1)"
                f" INSERT INTO ledger_transfer ({columns}) SELECT {source}, {target}, 1, 'successful', {stamp}, 2,"
                f" {stamp}, '', {seq} + 1 + i FROM s",
                [count],
            )
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.add_index(Transfer, index)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _pairs(seed: int, count: int) -> list[tuple]:
    """`count` (source, target, amount): the hot account on one side of half of them."""
    from ledger.models import Account

    accounts = {a.name: a for a in Account.objects.filter(kind="customer")}
    hot, others = accounts.pop("hot"), list(accounts.values())
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        if rng.random() < 0.5:
            other = rng.choice(others)
            source, target = (hot, other) if rng.random() < 0.5 else (other, hot)
        else:
            source, target = rng.sample(others, 2)
        pairs.append((source, target, rng.randint(1, 10_000)))
    return pairs


def baseline_transfer_create(*, source, target, amount):
    """Today's per-transfer design (before issue 16): insert pending, then one transaction per transfer up to it."""
    from django.utils import timezone

    from ledger import settlement
    from ledger.services import transfer_submit

    transfer, _ = transfer_submit(source=source, target=target, amount=amount)
    settlement.resolve_per_transfer(
        up_to=(settlement.db_datetime(transfer.created), transfer.pk), batch=200, from_log=False, now=timezone.now
    )


def do_transfers(mode: str, count: int, seed: int, cap: float | None) -> tuple[int, float]:
    """Make up to `count` transfers one call each, stopping after `cap` seconds; returns (done, seconds)."""
    from ledger.services import InsufficientFunds, transfer_create

    create = baseline_transfer_create if mode == "baseline" else transfer_create
    pairs = _pairs(seed, count)
    started = time.perf_counter()
    done = 0
    for source, target, amount in pairs:
        if cap is not None and time.perf_counter() - started >= cap:
            break
        try:
            create(source=source, target=target, amount=amount)
        except InsufficientFunds:
            pass
        done += 1
    return done, time.perf_counter() - started


def do_batches(mode: str | bool, batches: int, seed: int) -> float:
    """Transfers/s through `batches` batches of BATCH.

    batch: transfers_create_many end to end (validate, insert, settle; the ORM settler).
    settle_orm / settle_raw: BATCH transfers inserted pending (not timed), then one settle_batch timed.
    """
    from ledger import batch
    from ledger.models import Transfer
    from ledger.services import TransferRequest, transfers_create_many

    spent = 0.0
    for n in range(batches):
        pairs = _pairs(seed * 1000 + n, BATCH)
        if mode.startswith("settle_"):
            Transfer.objects.bulk_create([Transfer(source=s, target=t, amount=a) for s, t, a in pairs])
            started = time.perf_counter()
            decided = batch.settle_batch(limit=BATCH, path=mode.removeprefix("settle_"))
            spent += time.perf_counter() - started
            assert len(decided) == BATCH, len(decided)
        else:
            requests = [TransferRequest(source=s, target=t, amount=a) for s, t, a in pairs]
            started = time.perf_counter()
            results = transfers_create_many(requests=requests)
            spent += time.perf_counter() - started
            assert all(r.result == "created" for r in results), {r.result for r in results}
    return batches * BATCH / spent


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
        mode, count, cap, seed = command
        barrier.wait()
        results.put(do_transfers(mode, count, seed=seed, cap=cap))


class ClientPool:
    """`size` long-lived processes that start each measurement together, behind a barrier."""

    def __init__(self, size: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.size, self.rounds = size, 0
        self.barrier, self.results = ctx.Barrier(size), ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(size)]
        self.procs = [
            ctx.Process(target=_client, args=(i, q, self.results, self.barrier)) for i, q in enumerate(self.commands)
        ]
        for proc in self.procs:
            proc.start()

    def run(self, mode: str, count: int, cap: float | None) -> float:
        """count transfers in all; throughput over the slowest client's time."""
        self.rounds += 1
        for i, queue in enumerate(self.commands):
            queue.put((mode, count // self.size, cap, 1000 * self.rounds + i))
        outcomes = [self.results.get(timeout=900) for _ in self.procs]
        return sum(done for done, _ in outcomes) / max(seconds for _, seconds in outcomes)

    def close(self) -> None:
        for queue in self.commands:
            queue.put(None)
        for proc in self.procs:
            proc.join(timeout=30)


if __name__ == "__main__":
    serve()
