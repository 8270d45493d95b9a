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
delta``, the compare-and-set filter), run per row with the driver's executemany (see _Statement).
Raw SQL remains only where the ORM cannot say it, each marked ``# raw:`` with the reason (advisory
locks, sequences, NOTIFY, LISTEN). ``path="case"`` writes with one ORM ``update()`` per batch using a
``Case``/``When`` per row (bulk_update's way) and ``path="raw"`` in hand-written SQL, for the benchmark.
"""

from __future__ import annotations

import time
import uuid
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.sql.subqueries import InsertQuery, UpdateQuery
from django.utils import timezone

from ledger.conf import setting
from ledger.models import Account, Transfer

NOTIFY_CHANNEL = "ledger_settled"
# The settler lock (PostgreSQL): a transaction-scoped advisory lock, released by COMMIT, ROLLBACK or the
# end of the session (a settler killed with SIGKILL loses its connection, its transaction and the lock).
SETTLER_LOCK_KEY = 0x1ED6E16
CASE_CHUNK = 250  # rows per UPDATE: SQLite evaluates CASE WHEN linearly, so a chunk costs O(chunk^2)
PENDING = Transfer.Status.PENDING
SUCCESSFUL = Transfer.Status.SUCCESSFUL
REJECTED = Transfer.Status.REJECTED
_listening: weakref.WeakSet = weakref.WeakSet()


class SettlementConflict(Exception):
    """A compare-and-set missed a row it held the locks for: the batch was rolled back (retry it)."""


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
        return _settle(limit=limit, path=path, now=now, up_to=up_to)


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
    read = _Raw if raw and up_to is None else _Orm
    # Read under the settler lock (PostgreSQL) or the write lock taken at BEGIN (SQLite): no other batch
    # settler changes them before this one commits.
    candidates = read.candidates(limit, up_to)
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
        (_raw_balances if raw else _orm_balances)(deltas)
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
        latest = _select(
            ("top",),
            lambda _: (
                Transfer.objects.exclude(settled_seq=None).order_by("-settled_seq").values_list("settled_seq")[:1]
            ),
        ).rows([])
        top = latest[0][0] if latest else 0
    return list(range(top + 1, top + 1 + count))


def _chunks(items: list[Decided], size: int = CASE_CHUNK) -> Iterator[list[Decided]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- the ORM path ------------------------------------------------------------------------------
class _Orm:
    FIELDS = ("pk", "source_id", "target_id", "amount", "revision", "chain")

    @staticmethod
    def candidates(limit: int, up_to: Transfer | None = None) -> list[tuple]:
        """(pk, source_id, target_id, amount, revision, chain) of the oldest pending, chains completed."""
        pending = Transfer.objects.filter(status=PENDING)
        if up_to is None:
            oldest = _select(
                ("candidates", limit), lambda _: pending.order_by("created", "id").values_list(*_Orm.FIELDS)[:limit]
            )
            rows = [(*row[:5], _uuid(row[5])) for row in oldest.rows([])]
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

        rows = _select(("lock", len(ids)), locked, len(ids)).rows(ids)
        return {pk: [kind, balance] for pk, kind, balance in rows}


def pending_among(pks: set[int]) -> set[int]:
    """Which of these transfers are still pending."""
    ids = sorted(pks)
    query = _select(
        ("pending", len(ids)),
        lambda values: Transfer.objects.filter(pk__in=values, status=PENDING).values_list("pk"),
        len(ids),
    )
    return {row[0] for row in query.rows(ids)}


def _uuid(value: Any) -> uuid.UUID | None:
    """A UUID column as read without the ORM's converters (SQLite stores it as 32 hex digits)."""
    return uuid.UUID(value) if isinstance(value, str) else value


def _markers(count: int) -> list[int]:
    return [2**62 + 1000 + n for n in range(count)]


class _Select:
    """A SELECT the ORM compiles once, with markers for its values; run again with other values (rows as stored).

    Compiling a queryset costs the ORM more than the database takes to run these small statements
    (a settlement of one transfer runs three of them), so each is compiled once per shape and kept.
    """

    def __init__(self, queryset: Any, markers: int) -> None:
        self.sql, params = queryset.query.sql_with_params()
        where = {m: n for n, m in enumerate(_markers(markers))}
        self.slots = [where.get(p) if _hashable(p) else None for p in params]
        self.constants = list(params)
        if sorted(s for s in self.slots if s is not None) != list(range(markers)):
            raise ValueError("the compiled statement does not hold one parameter per marker")

    def rows(self, values: list[Any]) -> list[tuple]:
        params = [c if s is None else values[s] for s, c in zip(self.slots, self.constants, strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            return cursor.fetchall()


class _Uncompiled:
    """The fallback for a shape not kept (too many values): the queryset, evaluated each time."""

    def __init__(self, build: Callable[[list[Any]], Any]) -> None:
        self.build = build

    def rows(self, values: list[Any]) -> list[tuple]:
        return [tuple(row) for row in self.build(values)]


_selects: dict[tuple, _Select] = {}
MAX_KEPT_VALUES = 64


def _select(shape: tuple, build: Callable[[list[Any]], Any], markers: int = 0) -> _Select | _Uncompiled:
    """The kept statement of this shape; ``build(values)`` makes its queryset (compiled with markers)."""
    if markers > MAX_KEPT_VALUES:
        return _Uncompiled(build)
    key = (connection.alias, *shape)
    if key not in _selects:
        _selects[key] = _Select(build(_markers(markers)), markers)
    return _selects[key]


class _Statement:
    """A statement the ORM writes once, with a marker for each per-row value; then run for many rows.

    The ORM says the compare-and-set (quoting, the vendor's syntax, the model's columns); the driver's
    executemany runs it once per row (psycopg pipelines them, SQLite reuses the prepared statement).
    This is what makes the ORM path fast: one ``update()`` per row costs the ORM's query building per
    row, and one ``update()`` for the whole batch needs a ``Case``/``When`` per row and column, which
    the ORM builds and SQLite evaluates in O(rows^2) (the "case" path; bulk_update does the same).
    """

    def __init__(self, queryset: Any, markers: dict[str, Any], **values: Any) -> None:
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values(values)
        self.sql, params = query.get_compiler(queryset.db).as_sql()
        adapted = {
            connection.ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v: k for k, v in markers.items()
        }
        self.slots = [adapted.get(p, None) if _hashable(p) else None for p in params]
        self.constants = list(params)

    def run(self, rows: list[dict[str, Any]]) -> int:
        params = [
            [row[slot] if slot else const for slot, const in zip(self.slots, self.constants, strict=True)]
            for row in rows
        ]
        with connection.cursor() as cursor:
            cursor.executemany(self.sql, params)
            return cursor.rowcount


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


# Markers: values no real row holds, found again among the compiled statement's parameters (within each
# field's range: the ORM answers "no rows" at once for a value its column cannot hold).
_MARK = {
    "pk": 2**62 + 1,
    "old_revision": 2**31 - 7,
    "status": "\x00status",
    "reason": "\x00reason",
    "resolved": datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),
    "settled_seq": 2**62 + 3,
    "source_balance": 2**62 + 4,
    "target_balance": 2**62 + 5,
}
_statements: dict[tuple[str, str], _Statement] = {}


def _statement(name: str) -> _Statement:
    key = (connection.alias, name)
    if key not in _statements:
        m = _MARK
        if name == "settle":
            _statements[key] = _Statement(
                Transfer.objects.filter(pk=m["pk"], revision=m["old_revision"], status=PENDING),
                m,
                status=Value(m["status"]),
                reason=Value(m["reason"]),
                revision=F("revision") + 1,
                resolved=m["resolved"],
                settled_seq=Value(m["settled_seq"]),
                source_balance=Value(m["source_balance"]),
                target_balance=Value(m["target_balance"]),
            )
        else:
            _statements[key] = _Statement(
                Account.objects.filter(pk=m["pk"]), m, balance=F("balance") + Value(m["source_balance"])
            )
    return _statements[key]


def _orm_write(decided: list[Decided], now: datetime) -> None:
    adapted_now = connection.ops.adapt_datetimefield_value(now)
    rows = [
        {
            "pk": i.pk,
            "old_revision": i.revision,
            "status": i.status,
            "reason": i.reason,
            "resolved": adapted_now,
            "settled_seq": i.settled_seq,
            "source_balance": i.source_balance,
            "target_balance": i.target_balance,
        }
        for i in decided
    ]
    changed = _statement("settle").run(rows)
    if changed != len(decided):
        raise SettlementConflict(f"{len(decided) - changed} of {len(decided)} transfers were no longer pending")


def _orm_balances(deltas: dict[int, int]) -> None:
    _statement("balance").run([{"pk": pk, "source_balance": delta} for pk, delta in deltas.items()])


def _case_write(decided: list[Decided], now: datetime) -> None:
    for chunk in _chunks(decided):
        by_revision: dict[int, list[int]] = defaultdict(list)
        by_reason: dict[str, list[int]] = defaultdict(list)
        for item in chunk:
            by_revision[item.revision].append(item.pk)
            if item.status == REJECTED:
                by_reason[item.reason].append(item.pk)
        rejected = [pk for pks in by_reason.values() for pk in pks]
        compare = Q()
        for revision, pks in by_revision.items():
            compare |= Q(pk__in=pks, revision=revision)
        changed = Transfer.objects.filter(compare, status=PENDING).settle_update(
            status=Case(When(pk__in=rejected, then=Value(REJECTED)), default=Value(SUCCESSFUL))
            if rejected
            else Value(SUCCESSFUL),
            reason=Case(*(When(pk__in=pks, then=Value(reason)) for reason, pks in by_reason.items()), default=Value(""))
            if rejected
            else Value(""),
            revision=F("revision") + 1,
            resolved=now,
            settled_seq=_per_row(chunk, "settled_seq"),
            source_balance=_per_row(chunk, "source_balance"),
            target_balance=_per_row(chunk, "target_balance"),
        )
        if changed != len(chunk):
            raise SettlementConflict(f"{len(chunk) - changed} of {len(chunk)} transfers were no longer pending")


def _per_row(chunk: list[Decided], name: str) -> Case:
    return Case(*(When(pk=item.pk, then=Value(getattr(item, name))) for item in chunk))


# -- the raw SQL path (for comparison) ---------------------------------------------------------
class _Raw:
    @staticmethod
    def candidates(limit: int, up_to: None = None) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, source_id, target_id, amount, revision, chain FROM ledger_transfer"
                " WHERE status = 'pending' ORDER BY created, id LIMIT %s",
                [limit],
            )
            rows = cursor.fetchall()
        if any(row[5] is not None for row in rows):  # chains: the ORM path's completion, shared
            return _Orm.candidates(limit)
        return rows

    @staticmethod
    def lock_accounts(ids: list[int]) -> dict[int, list[Any]]:
        lock = " FOR NO KEY UPDATE" if connection.vendor == "postgresql" else ""
        sql = f"SELECT id, kind, balance FROM ledger_account WHERE id IN ({_marks(len(ids))}) ORDER BY id{lock}"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, ids)
            return {pk: [kind, balance] for pk, kind, balance in cursor.fetchall()}


def _marks(count: int) -> str:
    """``%s, %s, ...``: only placeholders are formatted into the raw path's SQL, never values."""
    return ", ".join(["%s"] * count)


# UPDATE ... FROM (VALUES ...): SQLite names the VALUES columns column1..column7 (no alias list), and its
# cursor reports no row count for a WITH ... UPDATE, hence a FROM subquery rather than a CTE.
RAW_WRITE_SQL = (
    "UPDATE ledger_transfer SET status = v.{c[2]}, reason = v.{c[3]}, revision = ledger_transfer.revision + 1,"
    " resolved = %s, settled_seq = v.{c[4]}, source_balance = v.{c[5]}, target_balance = v.{c[6]}"
    " FROM (VALUES {rows}) AS v{alias} WHERE ledger_transfer.id = v.{c[0]} AND ledger_transfer.revision = v.{c[1]}"
    " AND ledger_transfer.status = 'pending'"
)
RAW_COLUMNS = ("id", "rev", "status", "reason", "seq", "sb", "tb")


def _raw_write(decided: list[Decided], now: datetime) -> None:
    stamp = connection.ops.adapt_datetimefield_value(now)
    for chunk in _chunks(decided, 1000):
        params: list[Any] = []
        for i in chunk:
            params += [i.pk, i.revision, i.status, i.reason, i.settled_seq, i.source_balance, i.target_balance]
        rows = ", ".join([f"({_marks(7)})"] * len(chunk))
        if connection.vendor == "sqlite":
            sql = RAW_WRITE_SQL.format(c=[f"column{n}" for n in range(1, 8)], rows=rows, alias="")
        else:
            sql = RAW_WRITE_SQL.format(c=RAW_COLUMNS, rows=rows, alias=f" ({', '.join(RAW_COLUMNS)})")
        with connection.cursor() as cursor:
            cursor.execute(sql, [stamp, *params])
            if cursor.rowcount != len(chunk):
                raise SettlementConflict(f"{len(chunk) - cursor.rowcount} of {len(chunk)} were no longer pending")


WRITERS = {"orm": _orm_write, "case": _case_write, "raw": _raw_write}


def _raw_balances(deltas: dict[int, int]) -> None:
    cases = " ".join(["WHEN %s THEN %s"] * len(deltas))
    params = [x for pair in deltas.items() for x in pair]
    sql = f"UPDATE ledger_account SET balance = balance + CASE id {cases} END WHERE id IN ({_marks(len(deltas))})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *deltas])


# -- inserting many pending transfers ---------------------------------------------------------
_inserts: dict[tuple, tuple[str, bool]] = {}


def insert_pending(transfers: list[Transfer]) -> None:
    """Insert unsaved transfers in one statement, setting their ids: bulk_create's own statement, kept.

    Building the INSERT for a thousand rows is most of what bulk_create costs; the statement (UNNEST
    on PostgreSQL, one VALUES row per transfer on SQLite) is compiled by the ORM once per shape and
    run again with each batch's values, prepared by each field as the ORM prepares them.
    """
    if not transfers:
        return
    fields = [f for f in Transfer._meta.concrete_fields if not f.primary_key and not f.generated]
    postgres = connection.vendor == "postgresql"
    key = (connection.alias, 0 if postgres else len(transfers))
    if key not in _inserts:
        dummies = [Transfer(source_id=0, target_id=0, amount=1) for _ in range(2 if postgres else len(transfers))]
        query = InsertQuery(Transfer)
        query.insert_values(fields, dummies)
        compiler = query.get_compiler(connection.alias)
        compiler.returning_fields = [Transfer._meta.pk]
        [(sql, params)] = compiler.as_sql()
        by_column = len(params) == len(fields) and all(isinstance(p, list) for p in params)
        _inserts[key] = (sql, by_column)
    sql, by_column = _inserts[key]
    columns = []
    for field in fields:
        values = [getattr(t, field.attname) for t in transfers]
        if all(v == values[0] and type(v) is type(values[0]) for v in values):  # one value: prepared once
            columns.append([field.get_db_prep_save(values[0], connection)] * len(values))
        else:
            columns.append([field.get_db_prep_save(v, connection) for v in values])
    params = columns if by_column else [v for row in zip(*columns, strict=True) for v in row]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    for transfer, pk in zip(transfers, ids, strict=True):
        transfer.pk = pk
        transfer._state.adding, transfer._state.db = False, connection.alias


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
