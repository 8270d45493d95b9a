"""The per-transfer settlement of issue 15, in plain SQL: one transaction per transfer.

The default path is now ledger.batch (one transaction per batch, on the ORM). This one remains for
LEDGER_BALANCE_SOURCE="log" (the recipe's SUM as the balance check, for comparison) and as the
benchmark's baseline ("today's per-transfer design"). The database still enforces every invariant:
the append-only triggers, the positive-amount and never-negative checks, the unique idempotency key
and the unique settlement number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection, transaction

PENDING_SQL = (
    "SELECT id, source_id, target_id, amount, revision, created FROM ledger_transfer"
    " WHERE status = 'pending'{up_to}{after} ORDER BY created, id LIMIT %s"
)


LOCK_SQL = "SELECT id, kind, balance FROM ledger_account WHERE id IN (%s, %s) ORDER BY id"
LOCK_SQL_POSTGRES = LOCK_SQL + " FOR NO KEY UPDATE"
FINALISE_SQL = (
    "UPDATE ledger_transfer SET status = %s, revision = %s, resolved = %s, reason = %s, settled_seq = {next_seq},"
    " source_balance = %s, target_balance = %s WHERE id = %s AND revision = %s AND status = 'pending'"
    " RETURNING settled_seq"
)
# SQLite: the transaction holds the database write lock, so MAX + 1 is safe (and an index lookup).
FINALISE_SQL_SQLITE = FINALISE_SQL.format(next_seq="(SELECT COALESCE(MAX(settled_seq), 0) + 1 FROM ledger_transfer)")
FINALISE_SQL_POSTGRES = FINALISE_SQL.format(next_seq="nextval('ledger_settle_seq')")


class Pending(NamedTuple):
    pk: int
    source_id: int
    target_id: int
    amount: int
    revision: int
    created: Any  # as the database returns it: only handed back to it


class Decision(NamedTuple):
    status: str
    revision: int
    resolved: datetime
    reason: str
    settled_seq: int
    source_balance: int
    target_balance: int


def db_datetime(value: datetime) -> Any:
    """A datetime as this database compares it."""
    return connection.ops.adapt_datetimefield_value(value)


def insert_pending(*, source_id: int, target_id: int, amount: int, key: str | None, created: datetime) -> int | None:
    """Insert a pending transfer (committed at once outside a transaction); None if the sender used the key."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_transfer (source_id, target_id, amount, status, created, revision, idempotency_key,"
            " reason) VALUES (%s, %s, %s, 'pending', %s, 1, %s, '')"
            " ON CONFLICT (source_id, idempotency_key) DO NOTHING RETURNING id",
            [source_id, target_id, amount, db_datetime(created), key],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def pending_batch(*, up_to: tuple[Any, int] | None, after: tuple[Any, int] | None, limit: int) -> list[Pending]:
    """Pending transfers in (created, id) order, up to and including `up_to`, strictly after `after`."""
    params: list[Any] = []
    up_to_sql = after_sql = ""
    if up_to is not None:
        up_to_sql = " AND (created < %s OR (created = %s AND id <= %s))"
        params += [up_to[0], up_to[0], up_to[1]]
    if after is not None:
        after_sql = " AND (created > %s OR (created = %s AND id > %s))"
        params += [after[0], after[0], after[1]]
    with connection.cursor() as cursor:
        cursor.execute(PENDING_SQL.format(up_to=up_to_sql, after=after_sql), [*params, limit])
        return [Pending(*row) for row in cursor.fetchall()]


def settle(transfer: Pending, *, balance_from_log: bool, now: datetime) -> Decision | None:
    """Decide one pending transfer in one transaction; None if another resolver settled it first.

    The accounts are locked first (FOR NO KEY UPDATE in id order on PostgreSQL, which does not block
    inserts referencing them; SQLite's immediate transaction holds the write lock from BEGIN), so
    the balance read, the decision and the new checkpoints cannot interleave with another settlement
    of either account. The transfer moves pending -> final with a compare-and-set on its revision.
    """
    postgres = connection.vendor == "postgresql"
    pk, source_id, target_id, amount, revision, _ = transfer
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LOCK_SQL_POSTGRES if postgres else LOCK_SQL, [source_id, target_id])
        accounts = {row[0]: row for row in cursor.fetchall()}
        _, source_kind, source_balance = accounts[source_id]
        target_balance = accounts[target_id][2]
        available = source_balance
        if balance_from_log:  # the recipe's way, for comparison: O(history)
            cursor.execute(
                "SELECT COALESCE(SUM(CASE WHEN target_id = %s THEN amount ELSE -amount END), 0) FROM ledger_transfer"
                " WHERE status = 'successful' AND (source_id = %s OR target_id = %s)",
                [source_id, source_id, source_id],
            )
            available = cursor.fetchone()[0]
        approved = source_kind == "system" or available >= amount
        if approved:
            status, reason = "successful", ""
            source_balance, target_balance = source_balance - amount, target_balance + amount
        else:
            # The receiver sees the reason too: it never carries the sender's balance (kept in source_balance).
            status, reason = "rejected", "insufficient funds"
        cursor.execute(
            FINALISE_SQL_POSTGRES if postgres else FINALISE_SQL_SQLITE,
            [status, revision + 1, db_datetime(now), reason, source_balance, target_balance, pk, revision],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        if approved:
            cursor.execute(
                "UPDATE ledger_account SET balance = balance + CASE WHEN id = %s THEN %s ELSE %s END"
                " WHERE id IN (%s, %s)",
                [source_id, -amount, amount, source_id, target_id],
            )
    return Decision(status, revision + 1, now, reason, row[0], source_balance, target_balance)


def resolve_per_transfer(*, up_to: tuple[Any, int] | None, batch: int, from_log: bool, now: Any) -> tuple[int, Any]:
    """Settle pending transfers one transaction each, oldest first, up to ``up_to`` (created, id) if given.

    Returns (how many this call settled, the Decision for the ``up_to`` transfer if this call settled it).
    """
    settled, mine, after = 0, None, None
    while True:
        rows = pending_batch(up_to=up_to, after=after, limit=batch)
        for row in rows:
            decision = settle(row, balance_from_log=from_log, now=now())
            if decision is None:
                continue  # another resolver settled it first
            settled += 1
            if up_to is not None and row.pk == up_to[1]:
                mine = decision
        if len(rows) < batch:
            return settled, mine
        after = (rows[-1].created, rows[-1].pk)
