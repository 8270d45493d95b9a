"""Putting runs on rq: one job or many per Redis pipeline, and pushing again the runs Redis lost.

jobs.services validates and decides (durable or not); this module only talks to rq. ``runs_reconcile`` is
the durable enqueue's other half: the database holds every acknowledged run, so what rq lost is pushed again.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import redis
from django.utils import timezone
from rq import Retry
from rq.job import Callback, Job

from jobs.catalog import JobSpec, UnknownJob, spec_get
from jobs.conf import setting
from jobs.history import Enqueued, run_record_enqueued
from jobs.models import JobRun, RunStatus
from jobs.queues import queue_get

logger = logging.getLogger("jobs.services")

# Runs the reconciler checks (one EXISTS pipeline) and pushes again (one pipeline) at a time.
RECONCILE_CHUNK = 500


def job_options(*, spec: JobSpec, job_id: str) -> dict[str, Any]:
    """The rq options of a catalog job: timeout, retry with backoff, TTLs, the failure callback (the run
    history knows its name from its "queued" event, so the job carries no meta)."""
    return {
        "job_id": job_id,
        "timeout": spec.timeout,
        "retry": Retry(max=spec.retries, interval=list(spec.retry_intervals)) if spec.retries else None,
        "result_ttl": setting("JOBS_RESULT_TTL"),
        "failure_ttl": setting("JOBS_FAILURE_TTL"),
        "on_failure": Callback("jobs.history.on_job_failure"),
    }


def create_options(*, spec: JobSpec, job_id: str) -> dict[str, Any]:
    return {k: v for k, v in job_options(spec=spec, job_id=job_id).items() if v is not None}


def run_new(
    *, spec: JobSpec, kwargs: dict[str, Any], owner: Any, now: datetime, at: datetime | None, job_id: str = ""
) -> Enqueued:
    """A run about to be enqueued (a fresh job id unless given)."""
    return Enqueued(
        job_id=job_id or uuid.uuid4().hex,
        name=spec.name,
        queue=spec.queue,
        status=RunStatus.SCHEDULED if at else RunStatus.QUEUED,
        arguments=kwargs,
        enqueued_at=now,
        scheduled_for=at,
        timeout=spec.timeout,
        owner_id=owner.pk if owner is not None and getattr(owner, "pk", None) else None,
    )


def run_push(*, spec: JobSpec, run: Enqueued, kwargs: dict[str, Any], history: bool = True) -> None:
    """The job of ``run`` (and, with ``history``, its "queued" history event) to rq, in one pipeline."""
    queue = queue_get(name=spec.queue)
    with queue.connection.pipeline() as pipe:
        job = queue.create_job(spec.func, kwargs=kwargs, **create_options(spec=spec, job_id=run.job_id))
        if run.scheduled_for:
            queue.schedule_job(job, _second_after(run.scheduled_for), pipeline=pipe)
        else:
            queue.enqueue_job(job, pipeline=pipe)
        if history:
            run_record_enqueued(run=run, pipeline=pipe)
        pipe.execute()


def _second_after(when: datetime) -> datetime:
    """``when`` rounded up to a whole second: rq scores scheduled jobs in whole seconds, truncated, so a
    job scheduled at 12.7 s would otherwise run at 12 s, before its delay."""
    return when if not when.microsecond else when.replace(microsecond=0) + timedelta(seconds=1)


def runs_push_many(
    *,
    spec: JobSpec,
    jobs: Sequence[tuple[str, dict[str, Any]]],
    record: Callable[[Sequence[tuple[str, dict[str, Any]]], Any], None] | None = None,
    batch_size: int = 1000,
) -> None:
    """Jobs ``(job_id, kwargs)`` of one catalog job to its queue, one pipeline (rq's enqueue_many) per batch.

    ``record(batch, pipeline)`` adds the batch's history events to its pipeline (None: none, their rows
    exist already). Raises redis.RedisError.
    """
    queue = queue_get(name=spec.queue)
    options = {k: v for k, v in job_options(spec=spec, job_id="-").items() if k != "job_id"}
    for start in range(0, len(jobs), batch_size):
        batch = jobs[start : start + batch_size]
        datas = [queue.prepare_data(spec.func, kwargs=kwargs, job_id=job_id, **options) for job_id, kwargs in batch]
        with queue.connection.pipeline() as pipe:
            queue.enqueue_many(datas, pipeline=pipe)
            if record is not None:
                record(batch, pipe)
            pipe.execute()


def runs_reconcile(*, grace: float | None = None) -> list[str]:
    """Push again the runs the database holds as queued or scheduled (for more than ``grace`` seconds,
    JOBS_RECONCILE_GRACE) that rq does not know: lost by a Redis failover or restart, or never pushed.

    A run rq still has (queued, scheduled, started, or finished with its result kept) is left alone, so no
    job runs twice; one reconciler at a time (a Redis lock). Runs are checked in chunks: one EXISTS pipeline
    per chunk, and the lost ones of a chunk pushed again in one pipeline per queue. Returns their job ids.
    """
    grace = setting("JOBS_RECONCILE_GRACE") if grace is None else grace
    cutoff = timezone.now() - timedelta(seconds=grace)
    connection = queue_get(name=setting("JOBS_QUEUES")[0]).connection
    lock = connection.lock("jobs:reconcile-lock", timeout=300, blocking=False)
    if not lock.acquire():
        return []
    pushed: list[str] = []
    try:
        stale = JobRun.objects.filter(status__in=(RunStatus.QUEUED, RunStatus.SCHEDULED), enqueued_at__lt=cutoff)
        chunk: list[JobRun] = []
        for row in stale.order_by("id").iterator(chunk_size=RECONCILE_CHUNK):
            chunk.append(row)
            if len(chunk) == RECONCILE_CHUNK:
                pushed += _reconcile_chunk(chunk)
                chunk = []
        if chunk:
            pushed += _reconcile_chunk(chunk)
    finally:
        with contextlib.suppress(redis.RedisError):
            lock.release()
    return pushed


def _reconcile_chunk(rows: list[JobRun]) -> list[str]:
    known: list[tuple[JobRun, JobSpec]] = []
    for row in rows:
        try:
            known.append((row, spec_get(name=row.name)))
        except UnknownJob:
            logger.error("jobs: run %s names job %r, which the catalog no longer has", row.job_id, row.name)
    if not known:
        return []
    connection = queue_get(name=known[0][1].queue).connection
    with connection.pipeline(transaction=False) as pipe:
        for row, _ in known:
            pipe.exists(Job.key_for(row.job_id))
        exists = pipe.execute()
    lost = [(row, spec) for (row, spec), found in zip(known, exists, strict=True) if not found]
    immediate: dict[str, tuple[JobSpec, list[tuple[str, dict[str, Any]]]]] = {}
    for row, spec in lost:
        if row.status == RunStatus.SCHEDULED and row.scheduled_for:
            run = run_new(spec=spec, kwargs=row.arguments, owner=None, now=row.enqueued_at, at=row.scheduled_for,
                          job_id=row.job_id)  # fmt: skip
            run_push(spec=spec, run=run, kwargs=row.arguments, history=False)
        else:
            immediate.setdefault(spec.name, (spec, []))[1].append((row.job_id, row.arguments))
    for spec, jobs in immediate.values():
        runs_push_many(spec=spec, jobs=jobs)
    for row, _ in lost:
        logger.warning("jobs: run %s (%s) was unknown to rq; pushed again", row.job_id, row.name)
    return [row.job_id for row, _ in lost]
