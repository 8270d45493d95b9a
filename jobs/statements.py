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
    fields = [f for f in JobRun._meta.concrete_fields if not f.primary_key and not f.generated]
    size = max(1, db.ops.bulk_batch_size(fields, runs))
    for start in range(0, len(runs), size):
        _insert(db, runs[start : start + size], fields)


_defaults: dict[tuple[str, str], tuple[Any, Any]] = {}


def _prepared(db: Any, field: Any, value: Any) -> Any:
    """``value`` prepared for the database; a field's default (most of a new run's columns) prepared once."""
    key = (db.alias, field.attname)
    if key not in _defaults:
        default = field.get_default()
        _defaults[key] = (default, field.get_db_prep_save(default, db))
    default, prepared = _defaults[key]
    if value == default and type(value) is type(default):
        return prepared
    return field.get_db_prep_save(value, db)


def _insert(db: Any, runs: list[JobRun], fields: list) -> None:
    postgres = db.vendor == "postgresql"
    key = (db.alias, 0 if postgres else len(runs))
    if key not in _inserts:
        query = InsertQuery(JobRun)
        query.insert_values(fields, [JobRun(name="-", queue="-") for _ in range(2 if postgres else len(runs))])
        [(sql, params)] = query.get_compiler(db.alias).as_sql()
        by_column = len(params) == len(fields) and all(isinstance(p, list) for p in params)  # PostgreSQL's UNNEST
        _inserts[key] = (sql, by_column)
    sql, by_column = _inserts[key]
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
