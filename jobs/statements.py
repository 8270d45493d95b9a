"""The durable enqueue's INSERT of JobRun rows: compiled by the ORM once per shape and kept.

Building an INSERT costs the ORM more than the database takes to run it (``create()`` spent half its time
in the compiler, measured), and durable enqueue runs one per job. So the statement is compiled once per
shape (the database, and on SQLite the number of rows) and run again with each call's values, prepared by
each field as the ORM prepares them (``auto_now`` fields get one time per statement). The ledger keeps its
settler's statements the same way (ledger.statements).
"""

from __future__ import annotations

from typing import Any

from django.db import connections, router
from django.db.models.sql.subqueries import InsertQuery
from django.utils import timezone

from jobs.models import JobRun

_inserts: dict[tuple[str, int], tuple[str, bool]] = {}


def runs_insert(runs: list[JobRun]) -> None:
    """INSERT unsaved ``runs`` (their ids stay unset), in as few statements as the database's limits allow."""
    db = connections[router.db_for_write(JobRun)]  # once: each lookup through the proxy costs a context-local read
    fields = _fields()
    size = max(1, db.ops.bulk_batch_size(fields, runs))
    for start in range(0, len(runs), size):
        _insert(db, runs[start : start + size], fields)


def run_insert(values: dict[str, Any]) -> None:
    """INSERT one run given as attname -> value; every other column takes its default (auto_now ones: now).

    The one-by-one durable enqueue's statement: no model instance is built (``JobRun(...)`` and preparing
    each of its columns cost about as much as SQLite takes to run the INSERT, measured), the defaults are
    prepared once per database.
    """
    db = connections[router.db_for_write(JobRun)]
    fields = _fields()
    sql, by_column = _statement(db, fields, 1)
    stamp = None
    row = []
    for field in fields:
        if field.attname in values:
            row.append(field.get_db_prep_save(values[field.attname], db))
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            if stamp is None:
                stamp = field.get_db_prep_save(timezone.now(), db)
            row.append(stamp)
        else:
            row.append(_default(db, field)[1])
    with db.cursor() as cursor:
        cursor.execute(sql, [[v] for v in row] if by_column else row)


_field_list: list = []


def _fields() -> list:
    """JobRun's columns an INSERT writes (all but the id), in a fixed order."""
    if not _field_list:
        _field_list.extend(f for f in JobRun._meta.concrete_fields if not f.primary_key and not f.generated)
    return _field_list


_defaults: dict[tuple[str, str], tuple[Any, Any]] = {}


def _default(db: Any, field: Any) -> tuple[Any, Any]:
    """A field's default and the default prepared for the database, computed once per database."""
    key = (db.alias, field.attname)
    if key not in _defaults:
        default = field.get_default()
        _defaults[key] = (default, field.get_db_prep_save(default, db))
    return _defaults[key]


def _prepared(db: Any, field: Any, value: Any) -> Any:
    """``value`` prepared for the database; a field's default (most of a new run's columns) prepared once."""
    default, prepared = _default(db, field)
    if value == default and type(value) is type(default):
        return prepared
    return field.get_db_prep_save(value, db)


def _statement(db: Any, fields: list, rows: int) -> tuple[str, bool]:
    """The INSERT of ``rows`` rows, compiled once per database (PostgreSQL: one UNNEST statement for any
    number of rows) and whether it takes its values by column (UNNEST's arrays) rather than by row."""
    postgres = db.vendor == "postgresql"
    key = (db.alias, 0 if postgres else rows)
    if key not in _inserts:
        query = InsertQuery(JobRun)
        query.insert_values(fields, [JobRun(name="-", queue="-") for _ in range(2 if postgres else rows)])
        [(sql, params)] = query.get_compiler(db.alias).as_sql()
        by_column = len(params) == len(fields) and all(isinstance(p, list) for p in params)  # PostgreSQL's UNNEST
        _inserts[key] = (sql, by_column)
    return _inserts[key]


def _insert(db: Any, runs: list[JobRun], fields: list) -> None:
    sql, by_column = _statement(db, fields, len(runs))
    columns = []
    stamp = timezone.now()  # auto_now(_add) fields: one time for the whole statement, prepared once
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for run in runs:
                setattr(run, field.attname, stamp)
        values = [getattr(run, field.attname) for run in runs]  # what pre_save gives for the other fields
        if all(v is values[0] for v in values):  # one value (None, the shared arguments): prepared once
            columns.append([_prepared(db, field, values[0])] * len(values))
        else:
            columns.append([field.get_db_prep_save(v, db) for v in values])
    params = columns if by_column else [v for row in zip(*columns, strict=True) for v in row]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
