"""Apply the run history events to JobRun rows, in batches: one database transaction per batch.

A worker runs the flush in a child process every JOBS_HISTORY_FLUSH_INTERVAL seconds and when it stops, so a
job costs its worker no database work at all. Events wait in Redis (the same Redis that holds the jobs), so a
worker killed before it flushed loses none: the next flush applies them. Applying is idempotent (attempts
are keyed by rq's execution id), so a batch whose flusher died after its commit and before it trimmed the
list is simply applied again.

Rows are plain dicts here, written with one executemany per statement: Django's model instances,
bulk_create and bulk_update cost more CPU than everything else in a flush (measured: about 5x).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import redis
from django.contrib.auth import get_user_model
from django.db import DatabaseError, OperationalError, connections, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from jobs.conf import setting
from jobs.history.events import ATTEMPT_TRACEBACK_CHARS, history_key
from jobs.models import JobRun, RunStatus
from jobs.queues import queue_get

logger = logging.getLogger(__name__)

# A flusher SIGKILLed (with its worker) mid-flush leaves the lock behind: the history waits this long.
# A batch (at most 1000 events, one transaction) takes far less.
FLUSH_LOCK_TIMEOUT = 10
# What the history changes on an existing row, and what a new row holds (model attribute names).
FIELDS = [
    "status", "scheduled_for", "started_at", "ended_at", "attempts", "attempt_log", "worker", "result", "error",
    "traceback",
]  # fmt: skip
NEW_ROW_FIELDS = [
    "job_id", "name", "arguments", "queue", "owner_id", "enqueued_at", "timeout", *FIELDS, "created_at", "updated_at",
]  # fmt: skip
PLAIN_TYPES = {"CharField", "TextField", "PositiveIntegerField", "IntegerField", "ForeignKey", "BigAutoField"}

Row = dict[str, Any]


def _lock_key() -> str:
    return f"{setting('JOBS_HISTORY_KEY')}:flush-lock"


def _when(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def _new_row(event: dict[str, Any]) -> Row:
    info = event.get("job") or {}
    try:
        arguments = json.loads(json.dumps(info.get("arguments") or {}, default=str))
    except (TypeError, ValueError):
        arguments = {}
    return {
        "job_id": event["id"],
        "name": (info.get("name") or "?")[:100],
        "arguments": arguments,
        "queue": info.get("queue") or "",
        "owner_id": event.get("owner"),
        "status": RunStatus.QUEUED,
        "enqueued_at": _when(info.get("enqueued_at")) or _when(event["at"]),
        "scheduled_for": _when(event.get("scheduled_for")),
        "timeout": info.get("timeout"),
        "started_at": None,
        "ended_at": None,
        "attempts": 0,
        "attempt_log": [],
        "worker": "",
        "result": "",
        "error": "",
        "traceback": "",
    }


def _attempt_of(row: Row, event: dict[str, Any]) -> dict[str, Any] | None:
    """The attempt-log entry an event is about: the one with its rq execution id, else the latest attempt."""
    if execution_id := event.get("x"):
        return next((entry for entry in row["attempt_log"] if entry.get("x") == execution_id), None)
    return row["attempt_log"][-1] if row["attempt_log"] else None


def _apply(row: Row, event: dict[str, Any]) -> None:
    """Apply one event to its run. Idempotent: a batch applied again (its flusher died after the commit,
    before trimming the list) changes nothing, since attempts are keyed by rq's execution id."""
    at = _when(event["at"])
    kind = event["e"]
    if kind == "queued":
        if row["status"] == RunStatus.QUEUED and event.get("scheduled_for"):
            row["status"] = RunStatus.SCHEDULED
        return
    if kind == "started":
        if event.get("x") and _attempt_of(row, event) is not None:
            return  # applied before
        worker = event.get("worker", "")
        row["attempts"] += 1
        entry = {"n": row["attempts"], "x": event.get("x", ""), "worker": worker, "started_at": event["at"]}
        row["attempt_log"] = [
            *row["attempt_log"],
            {**entry, "ended_at": None, "status": RunStatus.STARTED, "error": ""},
        ]
        row.update(status=RunStatus.STARTED, started_at=at, ended_at=None, worker=worker)
        return
    status = RunStatus.FINISHED if kind == "finished" else event["status"]
    error = "" if kind == "finished" else event["error"]
    entry = _attempt_of(row, event)
    if entry is not None:
        if entry["ended_at"] is not None and not event.get("x"):
            return  # an attempt's end without execution id (abandoned job), applied before
        entry.update(ended_at=event["at"], status=status, error=error)
        if kind != "finished":
            entry["traceback"] = event["traceback"][-ATTEMPT_TRACEBACK_CHARS:]
        if entry is not row["attempt_log"][-1]:
            return  # an earlier attempt's end, applied again: the run has moved on
    row.update(status=status, ended_at=at)
    if kind == "finished":
        row.update(result=event.get("result", ""), error="", traceback="")
    else:
        row.update(error=error, traceback=event["traceback"])


def _apply_batch(events: list[dict[str, Any]]) -> None:
    """Apply events in order, in one transaction: one SELECT of the existing rows (locked), one INSERT of
    the new rows in their final state, one UPDATE (executemany) of the existing rows they changed.

    Only flushers create rows, one at a time (the flush lock): should a second one still have created a
    row meanwhile (a lock that expired), the INSERT fails, and the batch is applied again event by event.
    """
    ids = list(dict.fromkeys(event["id"] for event in events))
    with transaction.atomic():
        rows = JobRun.objects.select_for_update().filter(job_id__in=ids).values("job_id", *FIELDS)
        existing: dict[str, Row] = {row["job_id"]: row for row in rows}
        new: dict[str, Row] = {}
        touched: dict[str, Row] = {}
        for event in events:
            job_id = event["id"]
            if job_id in existing:
                row = touched[job_id] = existing[job_id]
            elif job_id in new:
                row = new[job_id]
            else:
                row = new[job_id] = _new_row(event)
            _apply(row, event)
        now = timezone.now()
        if new:
            _forget_deleted_owners(new.values())
            _write(NEW_ROW_FIELDS, [{**row, "created_at": now, "updated_at": now} for row in new.values()])
        if touched:
            _write([*FIELDS, "updated_at"], [{**row, "updated_at": now} for row in touched.values()], update=True)


def _forget_deleted_owners(rows: Iterable[Row]) -> None:
    """A run whose owner was deleted before its history landed is kept, without owner."""
    rows = list(rows)
    owner_ids = {row["owner_id"] for row in rows if row["owner_id"] is not None}
    if not owner_ids:
        return
    User = get_user_model()
    existing = set(User._default_manager.filter(pk__in=owner_ids).values_list("pk", flat=True))
    for row in rows:
        if row["owner_id"] is not None and row["owner_id"] not in existing:
            row["owner_id"] = None


def _preparer(field: models.Field, connection: Any) -> Callable[[Any], Any] | None:
    """How a value of ``field`` becomes a query parameter: as is for text and integers, else Django's own."""
    if field.get_internal_type() in PLAIN_TYPES:
        return None
    return lambda value: field.get_db_prep_save(value, connection)


def _write(names: list[str], rows: list[Row], *, update: bool = False) -> None:
    """One executemany: INSERT ``rows`` (columns ``names``), or UPDATE them by job id."""
    connection = connections[JobRun.objects.db]
    fields = [JobRun._meta.get_field(name.removesuffix("_id") if name == "owner_id" else name) for name in names]
    quote = connection.ops.quote_name
    table, columns = quote(JobRun._meta.db_table), [quote(field.column) for field in fields]
    if update:
        assignments = ", ".join(f"{column} = %s" for column in columns)
        sql = f"UPDATE {table} SET {assignments} WHERE {quote('job_id')} = %s"  # noqa: S608
    else:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
    preparers = [(field.attname, _preparer(field, connection)) for field in fields]
    params = []
    for row in rows:
        values = [row[name] if prepare is None else prepare(row[name]) for name, prepare in preparers]
        params.append([*values, row["job_id"]] if update else values)
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _apply_events(events: list[dict[str, Any]]) -> None:
    """Apply a batch; if it fails, apply its events one by one and drop (log) those that still fail.

    A database that is down raises before anything is dropped: OperationalError propagates and the
    events stay in Redis for the next flush. One malformed event must not block the history forever.
    """
    try:
        _apply_batch(events)
        return
    except OperationalError:
        raise
    except (DatabaseError, KeyError, TypeError, ValueError):
        logger.exception("jobs: a history batch failed; applying its %d events one by one", len(events))
    for event in events:
        try:
            _apply_batch([event])
        except OperationalError:
            raise
        except (DatabaseError, KeyError, TypeError, ValueError):
            logger.exception("jobs: dropping a history event that cannot be applied: %r", event)


def history_flush(*, connection: redis.Redis, limit: int = 1000, wait: float = 0) -> int:
    """Apply up to ``limit`` pending history events, oldest first, in one transaction; returns how many.

    One flusher at a time (a Redis lock); events leave Redis only after their transaction commits.
    """
    lock = connection.lock(_lock_key(), timeout=FLUSH_LOCK_TIMEOUT, blocking=wait > 0, blocking_timeout=wait or None)
    if not lock.acquire():
        return 0
    try:
        raw = connection.lrange(history_key(), 0, limit - 1)
        if not raw:
            return 0
        events = []
        for item in raw:
            try:
                events.append(json.loads(item))
            except ValueError:
                logger.error("jobs: dropping an unreadable history event: %r", item[:200])
        if events:
            _apply_events(events)
        connection.ltrim(history_key(), len(raw), -1)
        return len(raw)
    finally:
        try:
            lock.release()
        except (redis.exceptions.LockError, redis.ConnectionError, redis.TimeoutError):
            pass  # expired, or Redis is gone: the lock expires by itself


def history_flush_all(*, connection: redis.Redis, wait: float = 0) -> int:
    """Flush until no event is pending (or another process holds the flush lock longer than ``wait`` s)."""
    total = 0
    while True:
        done = history_flush(connection=connection, wait=wait)
        total += done
        if not done:
            return total


def history_pending(*, connection: redis.Redis) -> int:
    """How many history events wait to be applied."""
    return int(connection.llen(history_key()))


def history_sync(*, connection: redis.Redis | None = None) -> int:
    """Apply pending history events now (read-your-writes for pages); 0 if none or Redis is down."""
    if connection is None:
        connection = queue_get(name=setting("JOBS_QUEUES")[0]).connection
    try:
        if not connection.llen(history_key()):
            return 0
        return history_flush_all(connection=connection, wait=2.0)
    except redis.RedisError:
        return 0
