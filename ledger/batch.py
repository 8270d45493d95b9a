"""Settlement in batches: one transaction decides up to N pending transfers, oldest first, in memory.

One batch, one transaction, one commit:

1. take the settler lock: on PostgreSQL a transaction-scoped advisory lock (``pg_advisory_xact_lock``),
   on SQLite the database write lock its immediate transaction takes at BEGIN;
2. read up to N pending transfers in (created, id) order (a linked chain cut by N is completed);
3. lock every account they touch, in id order (``SELECT ... FOR NO KEY UPDATE`` on PostgreSQL, which
   does not block inserts of transfers referencing them): the guard against any other writer of the
   balances, such as the per-transfer settlement of LEDGER_BALANCE_SOURCE="log";
4. decide them in order with running balances in memory (a linked chain all successful or all
   rejected);
5. write each decision with a compare-and-set on status and revision (a batch whose row count is short
   rolls back whole: ``SettlementConflict``), with its settlement number and checkpoints, then ONE
   balance update per account (``balance = balance + delta``); the triggers, the never-negative CHECK
   and the unique settlement number still guard every row.

Why a settler lock: submitters try it (``pg_try_advisory_xact_lock``, one cheap statement) and, when
another settler holds it, wait to be told that it committed (PostgreSQL LISTEN/NOTIFY, sent by the
settler's commit), re-reading their transfers after at most LEDGER_SETTLE_WAIT seconds if no word
comes. One settler commits for many submitters, so commits group under load, and nobody spends a
transaction finding out it lost a race for the hot account's row. It is released by COMMIT, ROLLBACK,
or the end of the session: a settler killed with SIGKILL loses its connection, its transaction rolls
back, and the next submitter takes over at its next try, within LEDGER_SETTLE_WAIT. On SQLite the write
lock plays that part: the submitter that gets it settles everyone's pending transfers, the others then
find theirs final.

On the ORM: the reads are querysets (``select_for_update(no_key=True)``, ``values_list``, ``aggregate``);
the writes are ``update()`` statements the ORM compiles once (``F("revision") + 1``, ``F("balance") +
delta``, the compare-and-set filter), run per row with the driver's executemany (ledger.statements, ledger.writes).
Raw SQL remains only where the ORM cannot say it, each marked ``# raw:`` with the reason (advisory
locks, sequences, NOTIFY, LISTEN). ``path="case"`` writes with one ORM ``update()`` per batch using a
``Case``/``When`` per row (bulk_update's way) and ``path="raw"`` in hand-written SQL, for the benchmark.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ledger.conf import setting
from ledger.metrics import SETTLED
from ledger.models import Account, Transfer
from ledger.statements import kept_select, uuid_value
from ledger.writes import WRITERS, RawReads, SettlementConflict, orm_balances, raw_balances
from switchboard.metrics import counter_add

NOTIFY_CHANNEL = "ledger_settled"
# The settler lock (PostgreSQL): a transaction-scoped advisory lock, released by COMMIT, ROLLBACK or the
# end of the session (a settler killed with SIGKILL loses its connection, its transaction and the lock).
SETTLER_LOCK_KEY = 0x1ED6E16
PENDING = Transfer.Status.PENDING
SUCCESSFUL = Transfer.Status.SUCCESSFUL
REJECTED = Transfer.Status.REJECTED
_listening: weakref.WeakSet = weakref.WeakSet()


@dataclass(slots=True)
class Decided:
    """A transfer of the batch and what the settler decided for it."""

    pk: int
    source_id: int
    target_id: int
    amount: int
    revision: int
    chain: uuid.UUID | None
    status: str = ""
    reason: str = ""
    settled_seq: int = 0
    source_balance: int = 0
    target_balance: int = 0
    resolved: datetime | None = None


# The fields a Transfer takes from its decision (revision and resolved are set once it is written).
DECISION_FIELDS = ("status", "reason", "settled_seq", "source_balance", "target_balance", "revision", "resolved")


# -- one batch -----------------------------------------------------------------------------------
def settle_batch(
    *, limit: int, wait: bool = True, path: str = "orm", up_to: Transfer | None = None
) -> list[Decided] | None:
    """Decide up to ``limit`` oldest pending transfers in one transaction; the decided ones, in settlement order.

    Only those up to and including ``up_to`` in (created, id) order, if given. With ``wait=False``
    (PostgreSQL) it returns None at once when another settler holds an account it needs. ``path``
    is how the decisions are written: "orm" (statements the ORM writes, run once per row with the
    driver's executemany), "case" (one ORM ``update()`` with a ``Case``/``When`` per row, bulk_update's
    way) or "raw" (hand-written ``UPDATE ... FROM (VALUES ...)``); the last two for the benchmark.
    """
    now = timezone.now()
    with transaction.atomic():
        if connection.vendor == "postgresql" and not _settler_lock(wait=wait):
            return None
        decided = _settle(limit=limit, path=path, now=now, up_to=up_to)
    counter_add(SETTLED, len(decided))  # the operations page's "settled / min": once committed, never failing
    return decided


def _settler_lock(*, wait: bool) -> bool:
    """Take the settler lock for this transaction (wait for it, or try it): one batch settler at a time.

    The account locks taken next are what makes a decision safe against any other writer of the
    balances (the per-transfer settlement of LEDGER_BALANCE_SOURCE="log" takes only those); the
    settler lock makes the pending transfers read next stable, and lets a submitter find out in one
    cheap statement that it should wait rather than settle.
    """
    with connection.cursor() as cursor:  # raw: the ORM has no advisory locks
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SETTLER_LOCK_KEY])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SETTLER_LOCK_KEY])
        return bool(cursor.fetchone()[0])


def _settle(*, limit: int, path: str, now: datetime, up_to: Transfer | None) -> list[Decided]:
    raw = path == "raw"
    read: Any = RawReads if raw and up_to is None else _Orm
    # Read under the settler lock (PostgreSQL) or the write lock taken at BEGIN (SQLite): no other batch
    # settler changes them before this one commits.
    candidates = read.candidates(limit, up_to)
    if candidates is None:  # the raw read found a linked chain: read again completing it
        candidates = _Orm.candidates(limit, up_to)
    if not candidates:
        return []
    account_ids = sorted({c[1] for c in candidates} | {c[2] for c in candidates})
    accounts = read.lock_accounts(account_ids)
    decided = decide([Decided(*row) for row in candidates], accounts)
    if not decided:
        return []
    for item, seq in zip(decided, _next_seqs(len(decided), raw=raw), strict=True):
        item.settled_seq = seq
    WRITERS[path](decided, now)
    for item in decided:
        item.revision, item.resolved = item.revision + 1, now
    deltas: dict[int, int] = defaultdict(int)
    for item in decided:
        if item.status == SUCCESSFUL:
            deltas[item.source_id] -= item.amount
            deltas[item.target_id] += item.amount
    deltas = {pk: delta for pk, delta in deltas.items() if delta}
    if deltas:
        (raw_balances if raw else orm_balances)(deltas)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # raw: the ORM has no NOTIFY; delivered when the batch commits
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
    return decided


def decide(items: list[Decided], accounts: dict[int, list[Any]]) -> list[Decided]:
    """Decide pending transfers in order on running balances (accounts: id -> [kind, balance], updated in place).

    A linked chain is decided where its first member stands: every member in turn on the balances
    its predecessors would leave; all successful, or all rejected if one of them fails.
    """
    chains: dict[uuid.UUID, list[Decided]] = defaultdict(list)
    for item in items:
        if item.chain is not None:
            chains[item.chain].append(item)
    decided: list[Decided] = []
    for item in items:
        if item.chain is None:
            group = [item]
        elif item.chain in chains:
            group = chains.pop(item.chain)
        else:
            continue  # a later member of a chain already decided
        _decide_group(group, accounts)
        decided += group
    return decided


def _decide_group(group: list[Decided], accounts: dict[int, list[Any]]) -> None:
    running: dict[int, int] = {}
    failed = None
    for item in group:
        kind, balance = accounts[item.source_id]
        available = running.get(item.source_id, balance)
        if kind != Account.Kind.SYSTEM and available < item.amount:
            failed = item
            break
        running[item.source_id] = available - item.amount
        running[item.target_id] = running.get(item.target_id, accounts[item.target_id][1]) + item.amount
    for item in group:
        source, target = accounts[item.source_id], accounts[item.target_id]
        if failed is None:
            source[1] -= item.amount
            target[1] += item.amount
            item.status, item.reason = SUCCESSFUL, ""
        else:
            item.status = REJECTED
            # The receiver sees the reason too: it never carries the sender's balance (kept in source_balance).
            item.reason = (
                "insufficient funds" if item is failed else f"linked transfer #{failed.pk} failed: insufficient funds"
            )
        item.source_balance, item.target_balance = source[1], target[1]


def _next_seqs(count: int, *, raw: bool) -> list[int]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # raw: the ORM has no sequences
            cursor.execute("SELECT nextval('ledger_settle_seq') FROM generate_series(1, %s)", [count])
            return sorted(row[0] for row in cursor.fetchall())
    # SQLite: the transaction holds the database write lock, so MAX + 1 is safe (and an index lookup).
    if raw:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COALESCE(MAX(settled_seq), 0) FROM ledger_transfer")
            top = cursor.fetchone()[0]
    else:
        latest = kept_select(
            ("top",),
            lambda _: (
                Transfer.objects.exclude(settled_seq=None).order_by("-settled_seq").values_list("settled_seq")[:1]
            ),
        ).rows([])
        top = latest[0][0] if latest else 0
    return list(range(top + 1, top + 1 + count))


# -- the ORM path ------------------------------------------------------------------------------
class _Orm:
    FIELDS = ("pk", "source_id", "target_id", "amount", "revision", "chain")

    @staticmethod
    def candidates(limit: int, up_to: Transfer | None = None) -> list[tuple]:
        """(pk, source_id, target_id, amount, revision, chain) of the oldest pending, chains completed."""
        pending = Transfer.objects.filter(status=PENDING)
        if up_to is None:
            oldest = kept_select(
                ("candidates", limit), lambda _: pending.order_by("created", "id").values_list(*_Orm.FIELDS)[:limit]
            )
            rows = [(*row[:5], uuid_value(row[5])) for row in oldest.rows([])]
        else:
            before = Q(created__lt=up_to.created) | Q(created=up_to.created, pk__lte=up_to.pk)
            rows = list(pending.filter(before).order_by("created", "id").values_list(*_Orm.FIELDS)[:limit])
        chains = {row[5] for row in rows if row[5] is not None}
        if chains:  # a chain cut by the limit settles whole: add its other members
            seen = {row[0] for row in rows}
            more = pending.filter(chain__in=chains).order_by("created", "id").values_list(*_Orm.FIELDS)
            rows += [row for row in more if row[0] not in seen]
        return rows

    @staticmethod
    def lock_accounts(ids: list[int]) -> dict[int, list[Any]]:
        def locked(pks: list[int]) -> Any:
            return (
                Account.objects.filter(pk__in=pks)
                .order_by("pk")
                .select_for_update(no_key=True)
                .values_list("pk", "kind", "balance")
            )

        rows = kept_select(("lock", len(ids)), locked, len(ids)).rows(ids)
        return {pk: [kind, balance] for pk, kind, balance in rows}


def pending_among(pks: set[int]) -> set[int]:
    """Which of these transfers are still pending."""
    ids = sorted(pks)
    query = kept_select(
        ("pending", len(ids)),
        lambda values: Transfer.objects.filter(pk__in=values, status=PENDING).values_list("pk"),
        len(ids),
    )
    return {row[0] for row in query.rows(ids)}


# -- settling until some transfers are final -------------------------------------------------
def transfers_settle(pks: Iterable[int], *, path: str = "orm") -> dict[int, Decided]:
    """Return once every transfer in ``pks`` is final: settling batches, or waiting while another settler does.

    Returns the decisions this call made for them (the others were decided by another settler).
    """
    remaining = set(pks)
    mine: dict[int, Decided] = {}
    postgres = connection.vendor == "postgresql"
    limit, patience = setting("LEDGER_SETTLE_BATCH"), setting("LEDGER_SETTLE_WAIT")
    if postgres:
        _listen()
    while remaining:
        if not postgres:  # SQLite: read (no lock) whether the submitter holding the write lock settled them
            remaining = pending_among(remaining)
            if not remaining:
                break
        try:
            decided = settle_batch(limit=limit, wait=not postgres, path=path)
        except SettlementConflict:
            decided = []  # rolled back: read again and retry
        if decided is None:  # another settler holds the accounts: wait for its word (or the fallback re-read)
            _wait(patience)
            decided = []
        for item in decided:
            if item.pk in remaining:
                mine[item.pk] = item
                remaining.discard(item.pk)
        if remaining and postgres:
            _drain()  # words received so far are older than what is read next
            remaining = pending_among(remaining)
    return mine


def _listen() -> None:
    connection.ensure_connection()
    if connection.connection in _listening:
        return
    with connection.cursor() as cursor:  # raw: the ORM has no LISTEN
        cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
    if not connection.in_atomic_block:  # inside a transaction LISTEN takes effect at commit: listen again later
        _listening.add(connection.connection)


def _drain() -> None:
    """Forget words received earlier: what is pending is read next, after them."""
    for _ in connection.connection.notifies(timeout=0):
        pass


def _wait(seconds: float) -> None:
    started = time.monotonic()
    for _ in connection.connection.notifies(timeout=seconds, stop_after=1):
        return
    if time.monotonic() - started < seconds:  # notifies() returned early without a word
        time.sleep(seconds)
