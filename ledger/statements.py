"""Statements the ORM compiles once and the settler runs again and again (ledger.batch, ledger.writes).

Compiling a queryset costs the ORM more than the database takes to run the settler's small statements,
and building a thousand-row INSERT or a per-row ``Case`` is most of what ``bulk_create`` and
``bulk_update`` cost. So each statement is compiled by the ORM once per shape, with a marker in place of
each value, and kept; then run with each batch's values (prepared by each field, as the ORM does).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import F, Value
from django.db.models.sql.subqueries import InsertQuery, UpdateQuery

from ledger.models import Account, Transfer

PENDING = Transfer.Status.PENDING


def uuid_value(value: Any) -> uuid.UUID | None:
    """A UUID column as read without the ORM's converters (SQLite stores it as 32 hex digits)."""
    return uuid.UUID(value) if isinstance(value, str) else value


def marker_values(count: int) -> list[int]:
    return [2**62 + 1000 + n for n in range(count)]


class KeptSelect:
    """A SELECT the ORM compiles once, with markers for its values; run again with other values (rows as stored).

    Compiling a queryset costs the ORM more than the database takes to run these small statements
    (a settlement of one transfer runs three of them), so each is compiled once per shape and kept.
    """

    def __init__(self, queryset: Any, markers: int) -> None:
        self.sql, params = queryset.query.sql_with_params()
        where = {m: n for n, m in enumerate(marker_values(markers))}
        self.slots = [where.get(p) if _hashable(p) else None for p in params]
        self.constants = list(params)
        if sorted(s for s in self.slots if s is not None) != list(range(markers)):
            raise ValueError("the compiled statement does not hold one parameter per marker")

    def rows(self, values: list[Any]) -> list[tuple]:
        params = [c if s is None else values[s] for s, c in zip(self.slots, self.constants, strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            return cursor.fetchall()


class Uncompiled:
    """The fallback for a shape not kept (too many values): the queryset, evaluated each time."""

    def __init__(self, build: Callable[[list[Any]], Any]) -> None:
        self.build = build

    def rows(self, values: list[Any]) -> list[tuple]:
        return [tuple(row) for row in self.build(values)]


_kept_selects: dict[tuple, KeptSelect] = {}
MAX_KEPT_VALUES = 64


def kept_select(shape: tuple, build: Callable[[list[Any]], Any], markers: int = 0) -> KeptSelect | Uncompiled:
    """The kept statement of this shape; ``build(values)`` makes its queryset (compiled with markers)."""
    if markers > MAX_KEPT_VALUES:
        return Uncompiled(build)
    key = (connection.alias, *shape)
    if key not in _kept_selects:
        _kept_selects[key] = KeptSelect(build(marker_values(markers)), markers)
    return _kept_selects[key]


class KeptUpdate:
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
_kept_updates: dict[tuple[str, str], KeptUpdate] = {}


def kept_update(name: str) -> KeptUpdate:
    key = (connection.alias, name)
    if key not in _kept_updates:
        m = _MARK
        if name == "settle":
            _kept_updates[key] = KeptUpdate(
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
            _kept_updates[key] = KeptUpdate(
                Account.objects.filter(pk=m["pk"]), m, balance=F("balance") + Value(m["source_balance"])
            )
    return _kept_updates[key]


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
