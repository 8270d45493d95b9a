"""The durable enqueue's INSERT of JobRun rows: built once per shape and kept.

Building an INSERT costs the ORM more than the database takes to run it (``create()`` spent half its time
in the compiler, measured), and durable enqueue runs one per job. So the statement is built once per
shape and run again with each call's values, prepared by each field as the ORM prepares them (``auto_now``
fields get one time per statement): on SQLite, and for one row on PostgreSQL, the ORM's own statement per
number of rows; for many rows on PostgreSQL one of ours per set of columns whose values differ between the
rows (``_pg_statement``). (One row through ``INSERT ... SELECT ... FROM generate_series(1, 1)`` cost
PostgreSQL twice the time of a plain ``INSERT ... VALUES``, measured: 675-987 vs 465-530 us.) The ledger keeps its
settler's statements the same way (ledger.statements).
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connections, router
from django.db.models.sql.subqueries import InsertQuery
from django.utils import timezone

from jobs.models import JobRun

_inserts: dict[tuple[str, Any], str] = {}


def runs_insert(rows: list[dict[str, Any]]) -> None:
    """INSERT runs given as attname -> value (every row names the same fields; every other column takes its
    default, auto_now ones the time of the statement), in as few statements as the database's limits allow.

    No model instance is built: ``JobRun(...)`` and preparing each of its columns cost about as much as SQLite
    takes to run a one-row INSERT (measured); a value shared by every row (None, equal arguments) and the
    defaults are prepared once.
    """
    db = connections[router.db_for_write(JobRun)]  # once: each lookup through the proxy costs a context-local read
    fields = _fields()
    size = max(1, db.ops.bulk_batch_size(fields, rows))
    for start in range(0, len(rows), size):
        _insert(db, rows[start : start + size], fields)


@functools.cache
def _fields() -> list:
    """JobRun's columns an INSERT writes (all but the id), in a fixed order."""
    return [f for f in JobRun._meta.concrete_fields if not f.primary_key and not f.generated]


_defaults: dict[tuple[str, str], Any] = {}


def _default(db: Any, field: Any) -> Any:
    """A field's default prepared for the database, once per database."""
    key = (db.alias, field.attname)
    if key not in _defaults:
        _defaults[key] = field.get_db_prep_save(field.get_default(), db)
    return _defaults[key]


def _statement(db: Any, fields: list, rows: int) -> str:
    """The ORM's INSERT of ``rows`` rows (one VALUES tuple each), compiled once per database and size."""
    key = (db.alias, rows)
    if key not in _inserts:
        query = InsertQuery(JobRun)
        query.insert_values(fields, [JobRun(name="-", queue="-") for _ in range(rows)])
        [(sql, _)] = query.get_compiler(db.alias).as_sql()
        _inserts[key] = sql
    return _inserts[key]


def _pg_statement(db: Any, fields: list, varying: tuple[str, ...]) -> str:
    """PostgreSQL's INSERT of any number of rows: one array (UNNEST) per column whose values differ between
    the rows, one value for each other column. The ORM's UNNEST statement takes an array for every column,
    and psycopg dumps every element of each in Python: for a batch whose rows share all but their job id
    (the usual bulk enqueue) that was most of the INSERT's time (measured). Kept per set of varying columns.
    """
    key = (db.alias, varying)
    if key not in _inserts:
        qn = db.ops.quote_name
        select, arrays = [], []
        for field in fields:
            cast = f"::{field.db_type(db)}"
            if field.attname in varying:
                select.append(f"u.{qn(field.column)}")
                arrays.append(f"(%s){cast}[]")
            else:
                select.append(f"(%s){cast}")
        names = ", ".join(qn(f.column) for f in fields if f.attname in varying)
        source = f"UNNEST({', '.join(arrays)}) AS u({names})" if arrays else "generate_series(1, %s)"
        # only quoted names and column types from the model; every value is a parameter
        columns = ", ".join(qn(f.column) for f in fields)
        _inserts[key] = f"INSERT INTO {qn(JobRun._meta.db_table)} ({columns}) SELECT {', '.join(select)} FROM {source}"  # noqa: S608
    return _inserts[key]


def _insert(db: Any, rows: list[dict[str, Any]], fields: list) -> None:
    n = len(rows)
    columns: list[tuple[Any, list | None]] = []  # per field: (the value all rows share, or None; or the values)
    stamp = None
    for field in fields:
        if field.attname in rows[0]:
            values = [row[field.attname] for row in rows]
            first = values[0]
            if all(v is first for v in values):
                columns.append((field.get_db_prep_save(first, db), None))
            else:
                columns.append((None, [field.get_db_prep_save(v, db) for v in values]))
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            if stamp is None:  # one time for the whole statement, prepared once
                stamp = field.get_db_prep_save(timezone.now(), db)
            columns.append((stamp, None))
        else:
            columns.append((_default(db, field), None))
    if db.vendor == "postgresql" and n > 1:
        varying = tuple(f.attname for f, (_, values) in zip(fields, columns, strict=True) if values is not None)
        sql = _pg_statement(db, fields, varying)
        params = [shared for shared, values in columns if values is None]
        params += [values for _, values in columns if values is not None] if varying else [n]
    else:
        sql = _statement(db, fields, n)
        full = [values if values is not None else [shared] * n for shared, values in columns]
        params = [v for row in zip(*full, strict=True) for v in row]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
