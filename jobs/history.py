"""The run history, written behind: worker hooks and rq callbacks push events to a Redis list, and
history_flush() applies them to JobRun rows in batches (one database transaction per batch).

A worker runs the flush in a child process every JOBS_HISTORY_FLUSH_INTERVAL seconds and when it stops, so a
job costs its worker one RPUSH per event instead of a database commit. Events wait in Redis (the same
Redis that holds the jobs), so a worker killed before it flushed loses none: the next flush applies them.
"""

from __future__ import annotations

import json
import logging
import traceback as tb_module
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from django.contrib.auth import get_user_model
from django.db import DatabaseError, OperationalError, connections, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rq.exceptions import AbandonedJobError, NoSuchJobError
from rq.job import Job

from jobs.conf import setting
from jobs.models import JobRun, RunStatus

logger = logging.getLogger(__name__)

RESULT_MAX_CHARS = 2000
TRACEBACK_MAX_CHARS = 20000
# Each attempt of the attempt log keeps the end of its traceback (the run keeps its last one whole).
ATTEMPT_TRACEBACK_CHARS = 4000
# A flusher SIGKILLed (with its worker) mid-flush leaves the lock behind: the history waits this long.
# A batch (at most 1000 events, one transaction) takes far less.
FLUSH_LOCK_TIMEOUT = 10
ABANDONED_REASON = (
    "Its worker stopped sending heartbeats (killed or lost) while running it; "
    "rq's abandoned-job cleanup found it in the started registry."
)


def history_key() -> str:
    return f"{setting('JOBS_HISTORY_KEY')}:events"


def _lock_key() -> str:
    return f"{setting('JOBS_HISTORY_KEY')}:flush-lock"


def _summary(value: Any) -> str:
    if value is None:
        return ""
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text[:RESULT_MAX_CHARS]


def _last_line(exc_string: str) -> str:
    lines = [line for line in exc_string.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "failed")[:500]


def _job_info(job: Job) -> dict[str, Any]:
    """What is needed to create the run of a job this app did not enqueue (a cron job, a Django Task)."""
    meta = job.meta or {}
    kwargs = job.kwargs if isinstance(job.kwargs, dict) else {}
    return {
        "name": str(meta.get("jobs_name") or job.func_name)[:100],
        "queue": job.origin,
        "arguments": {"args": list(job.args or ()), **kwargs} if job.args else kwargs,
        "enqueued_at": job.enqueued_at.isoformat() if job.enqueued_at else None,
        "timeout": job.timeout if job.timeout and job.timeout > 0 else None,
    }


def _event(job: Job, kind: str, at: Any = None, /, **fields: Any) -> str:
    return json.dumps({"id": job.id, "e": kind, "at": (at or timezone.now()).isoformat(), **fields}, default=str)


def _push(job: Job, event: dict[str, Any]) -> None:
    event = {"id": job.id, "at": timezone.now().isoformat(), "job": _job_info(job), **event}
    job.connection.rpush(history_key(), json.dumps(event, default=str))


def _progress_final(job: Job, status: str, *, refresh: bool) -> None:
    from jobs.services import board_publish

    meta = job.meta or {}
    if refresh:  # a worker's parent process holds the meta it fetched before the job wrote progress
        try:
            meta = job.get_meta(refresh=True)
        except (redis.RedisError, NoSuchJobError):
            pass
    progress = (meta or {}).get("progress")
    if progress:
        board_publish(job_id=job.id, value={**progress, "status": status})


# -- recorders ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Enqueued:
    """A run just put on a queue; its JobRun row is written by the next history flush."""

    job_id: str
    name: str
    queue: str
    status: str
    arguments: dict[str, Any]
    enqueued_at: datetime
    scheduled_for: datetime | None = None
    timeout: int | None = None
    owner_id: int | None = None


_ID_SLOT = "\x00"


def _queued_events(first: Enqueued, job_ids: Sequence[str]) -> list[str]:
    """The "queued" events of runs that differ from ``first`` only by job id (one JSON encoding for all)."""
    template = json.dumps(
        {
            "id": _ID_SLOT,  # first key: the first occurrence of the slot in the JSON text
            "e": "queued",
            "at": first.enqueued_at.isoformat(),
            "job": {
                "name": first.name,
                "queue": first.queue,
                "arguments": first.arguments,
                "enqueued_at": first.enqueued_at.isoformat(),
                "timeout": first.timeout,
            },
            "owner": first.owner_id,
            "scheduled_for": first.scheduled_for.isoformat() if first.scheduled_for else None,
        },
        default=str,
    )
    if len(job_ids) == 1:
        return [template.replace(json.dumps(_ID_SLOT), json.dumps(job_ids[0]), 1)]
    head, tail = template.split(json.dumps(_ID_SLOT), 1)
    return [f"{head}{json.dumps(job_id)}{tail}" for job_id in job_ids]


def run_record_enqueued(*, run: Enqueued, pipeline: Any) -> None:
    """Record an enqueued run in the same Redis pipeline (so: atomically) as its job."""
    pipeline.rpush(history_key(), *_queued_events(run, [run.job_id]))


def runs_record_enqueued(*, first: Enqueued, job_ids: Sequence[str], pipeline: Any) -> None:
    """Record many enqueued runs alike but for their job ids in one RPUSH of the caller's pipeline."""
    if job_ids:
        pipeline.rpush(history_key(), *_queued_events(first, job_ids))


def run_record_started(*, job: Job, worker_name: str, execution_id: str = "", pipeline: Any = None) -> None:
    """A worker starts an attempt of ``job`` (rq execution ``execution_id``); with ``pipeline``, in the
    worker's own start-of-job transaction."""
    event = _event(job, "started", job.started_at, x=execution_id, worker=worker_name[:100], job=_job_info(job))
    (pipeline if pipeline is not None else job.connection).rpush(history_key(), event)


def run_record_finished(*, job: Job, execution_id: str = "", pipeline: Any = None) -> None:
    """``job`` returned: keep a summary of its result; with ``pipeline``, in rq's success transaction.

    The event carries no job description: the "started" event before it (same list, same worker) has it.
    """
    event = _event(job, "finished", job.ended_at, x=execution_id, result=_summary(getattr(job, "_result", None)))
    (pipeline if pipeline is not None else job.connection).rpush(history_key(), event)
    if pipeline is None:
        run_finished_after(job=job)


def run_finished_after(*, job: Job) -> None:
    """After the "finished" event is stored: close the progress bar of a job that reported progress."""
    _progress_final(job, "finished", refresh=False)


def run_record_failed(
    *,
    job: Job,
    exc_string: str,
    retrying: bool,
    stopped: bool = False,
    in_parent: bool = False,
    execution_id: str = "",
) -> None:
    """An attempt of ``job`` (rq execution ``execution_id``; unknown: its latest attempt) failed: it raised,
    timed out, was stopped, lost its work horse or its worker."""
    if stopped:
        status, error = RunStatus.STOPPED, "Stopped on request: its work horse was killed."
    else:
        status = RunStatus.RETRYING if retrying else RunStatus.FAILED
        error = _last_line(exc_string) + (" (it will be retried)" if retrying else "")
    traceback = exc_string[-TRACEBACK_MAX_CHARS:]
    _push(job, {"e": "failed", "x": execution_id, "status": status, "error": error, "traceback": traceback})
    if not retrying:
        _progress_final(job, status, refresh=in_parent or stopped)


def run_record_abandoned(*, job: Job) -> None:
    """rq's cleanup found ``job`` in a started registry with no live heartbeat: its worker died."""
    retrying = bool(job.retries_left and job.retries_left > 0)
    stack = "".join(tb_module.format_stack(limit=8))
    run_record_failed(
        job=job,
        exc_string=f"{stack}rq.exceptions.AbandonedJobError: {ABANDONED_REASON}",
        retrying=retrying,
        in_parent=True,
    )


def on_job_failure(job: Job, connection: Any, exc_type: type, exc_value: BaseException, tb: Any) -> None:
    """rq failure callback of every job this app enqueues: records an abandoned job wherever cleanup runs.

    Ordinary failures are recorded by the worker hook (it knows about stop requests and retries);
    the abandoned-job path may run in any process that cleans a started registry.
    """
    if isinstance(exc_value, AbandonedJobError) or exc_type is AbandonedJobError:
        run_record_abandoned(job=job)


# -- flush ---------------------------------------------------------------------------------------------
def _when(value: str | None):
    return parse_datetime(value) if value else None


FIELDS = [
    "status", "scheduled_for", "started_at", "ended_at", "attempts", "attempt_log", "worker", "result", "error",
    "traceback",
]  # fmt: skip


def _new_row(event: dict[str, Any]) -> JobRun:
    info = event.get("job") or {}
    try:
        arguments = json.loads(json.dumps(info.get("arguments") or {}, default=str))
    except (TypeError, ValueError):
        arguments = {}
    return JobRun(
        job_id=event["id"],
        name=(info.get("name") or "?")[:100],
        arguments=arguments,
        queue=info.get("queue") or "",
        owner_id=event.get("owner"),
        status=RunStatus.QUEUED,
        enqueued_at=_when(info.get("enqueued_at")) or _when(event["at"]),
        scheduled_for=_when(event.get("scheduled_for")),
        timeout=info.get("timeout"),
    )


def _attempt_of(row: JobRun, event: dict[str, Any]) -> dict[str, Any] | None:
    """The attempt-log entry an event is about: the one with its rq execution id, else the latest attempt."""
    if execution_id := event.get("x"):
        return next((entry for entry in row.attempt_log if entry.get("x") == execution_id), None)
    return row.attempt_log[-1] if row.attempt_log else None


def _apply(row: JobRun, event: dict[str, Any]) -> None:
    """Apply one event to its run. Idempotent: a batch applied again (its flusher died after the commit,
    before trimming the list) changes nothing, since attempts are keyed by rq's execution id."""
    at = _when(event["at"])
    kind = event["e"]
    if kind == "queued":
        if row.status == RunStatus.QUEUED and event.get("scheduled_for"):
            row.status = RunStatus.SCHEDULED
        return
    if kind == "started":
        if event.get("x") and _attempt_of(row, event) is not None:
            return  # applied before
        worker = event.get("worker", "")
        row.attempts += 1
        entry = {"n": row.attempts, "x": event.get("x", ""), "worker": worker, "started_at": event["at"]}
        row.attempt_log = [*row.attempt_log, {**entry, "ended_at": None, "status": RunStatus.STARTED, "error": ""}]
        row.status, row.started_at, row.ended_at, row.worker = RunStatus.STARTED, at, None, worker
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
        if entry is not row.attempt_log[-1]:
            return  # an earlier attempt's end, applied again: the run has moved on
    row.status, row.ended_at = status, at
    if kind == "finished":
        row.result, row.error, row.traceback = event.get("result", ""), "", ""
    else:
        row.error, row.traceback = error, event["traceback"]


def _apply_batch(events: list[dict[str, Any]]) -> None:
    """Apply events in order: one SELECT (rows locked), one INSERT of missing rows, one bulk UPDATE."""
    ids = list(dict.fromkeys(event["id"] for event in events))
    with transaction.atomic():
        rows = {row.job_id: row for row in JobRun.objects.select_for_update().filter(job_id__in=ids)}
        missing = {}
        for event in events:
            if event["id"] not in rows and event["id"] not in missing:
                missing[event["id"]] = _new_row(event)
        if missing:
            _forget_deleted_owners(missing.values())
            JobRun.objects.bulk_create(missing.values(), ignore_conflicts=True)
            rows.update({row.job_id: row for row in JobRun.objects.filter(job_id__in=list(missing))})
        touched = {}
        for event in events:
            row = rows.get(event["id"])
            if row is None:
                continue
            _apply(row, event)
            touched[row.job_id] = row
        _update_rows(list(touched.values()))


def _forget_deleted_owners(rows) -> None:
    """A run whose owner was deleted before its history landed is kept, without owner."""
    owner_ids = {row.owner_id for row in rows if row.owner_id is not None}
    if not owner_ids:
        return
    User = get_user_model()
    existing = set(User._default_manager.filter(pk__in=owner_ids).values_list("pk", flat=True))
    for row in rows:
        if row.owner_id is not None and row.owner_id not in existing:
            row.owner_id = None


def _update_rows(rows: list[JobRun]) -> None:
    """UPDATE each row's history fields with one executemany (Django's bulk_update is CPU-heavy)."""
    if not rows:
        return
    conn = connections[JobRun.objects.db]
    now = timezone.now()
    fields = [JobRun._meta.get_field(name) for name in [*FIELDS, "updated_at"]]
    table = conn.ops.quote_name(JobRun._meta.db_table)
    assignments = ", ".join(f"{conn.ops.quote_name(f.column)} = %s" for f in fields)
    sql = f"UPDATE {table} SET {assignments} WHERE {conn.ops.quote_name('job_id')} = %s"  # noqa: S608
    params = []
    for row in rows:
        row.updated_at = now
        params.append([*(f.get_db_prep_save(getattr(row, f.attname), conn) for f in fields), row.job_id])
    with conn.cursor() as cursor:
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
        from jobs.services import queue_get

        connection = queue_get(name=setting("JOBS_QUEUES")[0]).connection
    try:
        if not connection.llen(history_key()):
            return 0
        return history_flush_all(connection=connection, wait=2.0)
    except redis.RedisError:
        return 0
