"""How the settler writes a batch's decisions: three paths, the ORM's kept statements by default.

"orm": the compare-and-set ``update()`` the ORM compiles once, run per row with the driver's
executemany (psycopg pipelines them; SQLite reuses the prepared statement), and one
``balance = balance + delta`` per account the same way. "case": one ORM ``update()`` per chunk with a
``Case``/``When`` per row and column (bulk_update's way). "raw": a hand-written
``UPDATE ... FROM (VALUES ...)``. The last two are kept for the benchmark's comparison.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Case, F, Q, Value, When

from ledger.models import Transfer
from ledger.statements import kept_update

PENDING = Transfer.Status.PENDING
SUCCESSFUL = Transfer.Status.SUCCESSFUL
REJECTED = Transfer.Status.REJECTED
CASE_CHUNK = 250  # rows per UPDATE: SQLite evaluates CASE WHEN linearly, so a chunk costs O(chunk^2)


class SettlementConflict(Exception):
    """A compare-and-set missed a row it held the locks for: the batch was rolled back (retry it)."""


def _chunks(items: list[Any], size: int = CASE_CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _orm_write(decided: list[Any], now: datetime) -> None:
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
    changed = kept_update("settle").run(rows)
    if changed != len(decided):
        raise SettlementConflict(f"{len(decided) - changed} of {len(decided)} transfers were no longer pending")


def orm_balances(deltas: dict[int, int]) -> None:
    kept_update("balance").run([{"pk": pk, "source_balance": delta} for pk, delta in deltas.items()])


def _case_write(decided: list[Any], now: datetime) -> None:
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


def _per_row(chunk: list[Any], name: str) -> Case:
    return Case(*(When(pk=item.pk, then=Value(getattr(item, name))) for item in chunk))


# -- the raw SQL path (for comparison) ---------------------------------------------------------
class RawReads:
    @staticmethod
    def candidates(limit: int, up_to: None = None) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, source_id, target_id, amount, revision, chain FROM ledger_transfer"
                " WHERE status = 'pending' ORDER BY created, id LIMIT %s",
                [limit],
            )
            rows = cursor.fetchall()
        if any(row[5] is not None for row in rows):  # chains: the caller completes them with the ORM's read
            return None
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


def _raw_write(decided: list[Any], now: datetime) -> None:
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


def raw_balances(deltas: dict[int, int]) -> None:
    cases = " ".join(["WHEN %s THEN %s"] * len(deltas))
    params = [x for pair in deltas.items() for x in pair]
    sql = f"UPDATE ledger_account SET balance = balance + CASE id {cases} END WHERE id IN ({_marks(len(deltas))})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *deltas])
