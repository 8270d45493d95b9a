"""Jobs writes: enqueue (one or many), cancel, stop, requeue, prune. Progress: jobs.progress; history: jobs.history."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import redis
from django.db import transaction
from django.utils import timezone
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import CanceledJobRegistry, ScheduledJobRegistry

from jobs.catalog import JobSpec, spec_get
from jobs.conf import setting
from jobs.errors import (
    InvalidParameters,
    InvalidState,
    JobsUnavailable,
    NotAllowed,
    TooManyActive,
    redis_unavailable,
)
from jobs.history import Enqueued, history_sync, runs_record_enqueued
from jobs.models import TERMINAL, JobRun, RunStatus
from jobs.push import run_new, run_push, runs_push_many
from jobs.queues import queue_get
from jobs.statements import runs_insert
from jobs.worker import JobsJob
from switchboard.http import BadRequest, value_check
from switchboard.limits import RateResult, rate_limit_hit

logger = logging.getLogger(__name__)

ACTIVE = (RunStatus.QUEUED, RunStatus.SCHEDULED, RunStatus.STARTED, RunStatus.RETRYING)
# The per-user enqueue lock (active_slot): held for milliseconds; a request killed while holding it (a web
# process SIGKILLed) frees it after ACTIVE_LOCK_TIMEOUT, and a waiter waits longer than that, so the user's
# next request gets through instead of answering 503.
ACTIVE_LOCK_TIMEOUT, ACTIVE_LOCK_WAIT = 10, 15


# -- fair use ----------------------------------------------------------------------------------------------
def active_limit(*, user: Any) -> int | None:
    """How many active runs ``user`` may have (JOBS_USER_MAX_ACTIVE; staff JOBS_STAFF_MAX_ACTIVE); None: no limit."""
    return setting("JOBS_STAFF_MAX_ACTIVE") if user.is_staff else setting("JOBS_USER_MAX_ACTIVE")


@contextlib.contextmanager
def active_slot(*, user: Any) -> Iterator[None]:
    """Run the block (an enqueue or a requeue) only while ``user`` is under their active-run limit.

    Raises TooManyActive beyond it. A per-user Redis lock is held from the count to the end of the block, so
    concurrent requests of one user cannot all pass the check; the history is synced first, so a run enqueued
    by the previous holder is counted.
    """
    limit = active_limit(user=user)
    if limit is None:
        yield
        return
    connection = queue_get(name=setting("JOBS_QUEUES")[0]).connection
    try:
        lock = connection.lock(
            f"jobs:active-lock:{user.pk}", timeout=ACTIVE_LOCK_TIMEOUT, blocking_timeout=ACTIVE_LOCK_WAIT
        )
        if not lock.acquire():
            raise JobsUnavailable("Another request of yours is starting a job right now; try again.")
    except redis.RedisError as exc:
        raise redis_unavailable(exc) from None
    try:
        history_sync(connection=connection)
        active = JobRun.objects.filter(owner=user, status__in=ACTIVE).count()
        if active >= limit:
            raise TooManyActive(
                f"You have {active} active runs (queued, scheduled or running); the limit is {limit} per user "
                "(JOBS_USER_MAX_ACTIVE). Wait for one to finish, or cancel one, then try again."
            )
        yield
    finally:
        try:
            lock.release()
        except redis.RedisError:
            pass  # it expires on its own


def rate_hit(*, kind: str, ident: str) -> RateResult:
    """Count one ``kind`` request ("enqueue" or "action": cancel, stop, requeue) of ``ident`` against its limit.

    JOBS_ENQUEUE_RATE / JOBS_ACTION_RATE per their _WINDOW seconds; raises redis.RedisError when Redis is down.
    """
    prefix = {"enqueue": "JOBS_ENQUEUE_RATE", "action": "JOBS_ACTION_RATE"}[kind]
    return rate_limit_hit(scope=f"jobs-{kind}", ident=ident, limit=setting(prefix), window=setting(f"{prefix}_WINDOW"))


# -- enqueue -------------------------------------------------------------------------------------------
def params_clean(*, spec: JobSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Validate ``params`` (missing ones take the form's initial values); returns the job's keyword arguments.

    Raises InvalidParameters with field errors.
    """
    try:
        value_check(params)
    except BadRequest as exc:
        raise InvalidParameters(str(exc), {"__all__": [str(exc)]}) from None
    defaults = {name: field.initial for name, field in spec.form.base_fields.items() if field.initial is not None}
    form = spec.form(data={**defaults, **params})
    if not form.is_valid():
        errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
        raise InvalidParameters(f"The parameters of job {spec.name!r} are invalid.", errors)
    unknown = sorted(set(params) - set(form.fields))
    if unknown:
        raise InvalidParameters(
            f"Job {spec.name!r} takes no parameter named {', '.join(unknown)}.",
            {name: ["Unknown parameter."] for name in unknown},
        )
    return {key: value for key, value in form.cleaned_data.items() if value is not None}


def delay_check(delay: float | None) -> float | None:
    if delay is None:
        return None
    if not 0 <= delay <= setting("JOBS_MAX_DELAY"):
        raise InvalidParameters(
            f"delay must be between 0 and {setting('JOBS_MAX_DELAY')} seconds.", {"delay": ["Out of range."]}
        )
    return delay


def job_enqueue(*, name: str, params: dict[str, Any], owner: Any = None, delay: float | None = None) -> Enqueued:
    """Validate and enqueue catalog job ``name`` (after ``delay`` seconds if given).

    Durable (JOBS_DURABLE_ENQUEUE, the default): the JobRun row is written in the caller's database
    transaction and the job is pushed to rq when it commits (``runs_reconcile`` pushes it again should Redis
    be down then, or lose it later); a rolled-back transaction enqueues nothing. Otherwise the job and its
    "queued" history event go to Redis in one pipeline and the next history flush writes the row.
    """
    spec = spec_get(name=name)
    if owner is not None and not spec.allowed(owner):
        raise NotAllowed(f"Job {name!r} may only be started by staff.")
    kwargs = params_clean(spec=spec, params=params)
    delay = delay_check(delay)
    now = timezone.now()
    at = now + timedelta(seconds=delay) if delay else None
    run = run_new(spec=spec, kwargs=kwargs, owner=owner, now=now, at=at)
    if setting("JOBS_DURABLE_ENQUEUE"):
        return _enqueue_durable(spec=spec, run=run, kwargs=kwargs)
    try:
        run_push(spec=spec, run=run, kwargs=kwargs)
    except redis.RedisError as exc:
        raise redis_unavailable(exc) from None
    return run


# -- durable enqueue: the row first, in the caller's transaction; rq on commit; the reconciler after --------
def _run_row(run: Enqueued) -> dict[str, Any]:
    """The JobRun row of ``run`` for runs_insert (attname -> value); its arguments as JSON stores them."""
    return {"job_id": run.job_id, "name": run.name, "queue": run.queue, "status": run.status,
            "arguments": json.loads(json.dumps(run.arguments, default=str)), "owner_id": run.owner_id,
            "enqueued_at": run.enqueued_at, "scheduled_for": run.scheduled_for, "timeout": run.timeout}  # fmt: skip


def _enqueue_durable(*, spec: JobSpec, run: Enqueued, kwargs: dict[str, Any]) -> Enqueued:
    # One INSERT: in the caller's transaction, or (autocommit) committed at once, when on_commit runs the push.
    runs_insert([_run_row(run)])
    transaction.on_commit(functools.partial(_push_after_commit, spec=spec, run=run, kwargs=kwargs))
    return run


def _push_after_commit(*, spec: JobSpec, run: Enqueued, kwargs: dict[str, Any]) -> None:
    try:
        run_push(spec=spec, run=run, kwargs=kwargs, history=False)  # its row is the history
    except redis.RedisError as exc:
        # The run is committed: the reconciler pushes it once Redis answers again.
        logger.warning(
            "jobs: run %s is recorded but Redis refused it (%s); the reconciler will push it", run.job_id, exc
        )


def jobs_enqueue_many(
    *, name: str, params_list: Sequence[dict[str, Any]], owner: Any = None, batch_size: int = 1000
) -> list[str]:
    """Enqueue many runs of one catalog job; returns their job ids. Equal parameters are validated once.

    Durable (JOBS_DURABLE_ENQUEUE): their JobRun rows are written in the caller's transaction in one bulk
    INSERT per batch, and the jobs pushed to rq when it commits, one pipeline (rq's enqueue_many) per batch;
    ``runs_reconcile`` pushes again what Redis refused or lost; a rolled-back transaction enqueues nothing.
    Otherwise: one Redis pipeline per batch with the jobs and their "queued" history events (those runs'
    rows come from the history flush).
    """
    spec = spec_get(name=name)
    if owner is not None and not spec.allowed(owner):
        raise NotAllowed(f"Job {name!r} may only be started by staff.")
    validated: dict[str, dict[str, Any]] = {}  # parameters (as JSON) -> the job's keyword arguments
    jobs: list[tuple[str, dict[str, Any]]] = []  # (job id, kwargs), equal kwargs shared
    for params in params_list:
        key = json.dumps(params, sort_keys=True, default=str)
        if key not in validated:
            validated[key] = params_clean(spec=spec, params=params)
        jobs.append((uuid.uuid4().hex, validated[key]))
    now = timezone.now()
    # One run per distinct parameters: what its jobs share but their job ids.
    runs = {id(kwargs): run_new(spec=spec, kwargs=kwargs, owner=owner, now=now, at=None, job_id="-")
            for kwargs in validated.values()}  # fmt: skip
    if setting("JOBS_DURABLE_ENQUEUE"):
        return _enqueue_many_durable(spec=spec, jobs=jobs, runs=runs, batch_size=batch_size)

    def record(batch: Sequence[tuple[str, dict[str, Any]]], pipeline: Any) -> None:
        job_ids: dict[int, list[str]] = {}
        for job_id, kwargs in batch:
            job_ids.setdefault(id(kwargs), []).append(job_id)
        for key, ids in job_ids.items():
            runs_record_enqueued(first=runs[key], job_ids=ids, pipeline=pipeline)

    try:
        runs_push_many(spec=spec, jobs=jobs, record=record, batch_size=batch_size)
    except redis.RedisError as exc:
        raise redis_unavailable(exc) from None
    return [job_id for job_id, _ in jobs]


def _enqueue_many_durable(
    *, spec: JobSpec, jobs: list[tuple[str, dict[str, Any]]], runs: dict[int, Enqueued], batch_size: int
) -> list[str]:
    alike = {key: _run_row(run) for key, run in runs.items()}  # one row per distinct parameters
    rows = [{**alike[id(kwargs)], "job_id": job_id} for job_id, kwargs in jobs]
    with transaction.atomic():
        for start in range(0, len(rows), batch_size):
            runs_insert(rows[start : start + batch_size])
        transaction.on_commit(functools.partial(_push_many_after_commit, spec=spec, jobs=jobs, batch_size=batch_size))
    return [job_id for job_id, _ in jobs]


def _push_many_after_commit(*, spec: JobSpec, jobs: list[tuple[str, dict[str, Any]]], batch_size: int) -> None:
    try:
        runs_push_many(spec=spec, jobs=jobs, batch_size=batch_size)
    except redis.RedisError as exc:
        # The runs are committed: the reconciler pushes those rq does not have once Redis answers again.
        logger.warning("jobs: %d runs of %s are recorded but Redis refused them (%s); the reconciler will push "
                       "them", len(jobs), spec.name, exc)  # fmt: skip


# -- actions on a run ---------------------------------------------------------------------------------
def run_check_actor(*, run: JobRun, user: Any) -> None:
    """Only the run's owner or staff may act on it."""
    if not (user and user.is_authenticated and (user.is_staff or run.owner_id == user.pk)):
        raise NotAllowed("Only the user who started this run, or staff, may change it.")


def _fetch(run: JobRun) -> Job:
    try:
        return JobsJob.fetch(run.job_id, connection=queue_get(name=run.queue).connection)
    except NoSuchJobError:
        raise InvalidState(
            f"rq no longer holds job {run.job_id} (its TTL passed); start a new run from the catalog instead."
        ) from None


def run_cancel(*, run: JobRun, user: Any) -> JobRun:
    """Cancel a queued or scheduled run so that it never starts."""
    run_check_actor(run=run, user=user)
    if run.status not in (RunStatus.QUEUED, RunStatus.SCHEDULED):
        raise InvalidState(f"Only a queued or scheduled run can be canceled; this one is {run.status}.")
    try:
        job = _fetch(run)
        status = job.get_status()
        if status not in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
            raise InvalidState(f"The job is {status} in rq now and cannot be canceled; reload the page.")
        with job.connection.pipeline() as pipe:
            ScheduledJobRegistry(queue=queue_get(name=run.queue)).remove(job, pipeline=pipe)
            job.cancel(pipeline=pipe)
            pipe.execute()
    except redis.RedisError as exc:
        raise redis_unavailable(exc) from None
    except InvalidJobOperation as exc:
        raise InvalidState(str(exc)) from None
    JobRun.objects.filter(pk=run.pk).update(status=RunStatus.CANCELED, ended_at=timezone.now())
    run.refresh_from_db()
    return run


def run_stop(*, run: JobRun, user: Any) -> JobRun:
    """Ask the worker running this run to stop it (its work horse is killed; the run ends as stopped)."""
    run_check_actor(run=run, user=user)
    if run.is_terminal:
        raise InvalidState(f"Only a started run can be stopped; this one is {run.status}.")
    try:
        status = _fetch(run).get_status()
        if status != JobStatus.STARTED:
            raise InvalidState(f"Only a started run can be stopped; this one is {status} in rq.")
        send_stop_job_command(queue_get(name=run.queue).connection, run.job_id)
    except redis.RedisError as exc:
        raise redis_unavailable(exc) from None
    except InvalidJobOperation as exc:
        raise InvalidState(f"The job cannot be stopped now: {exc}") from None
    return run


def run_requeue(*, run: JobRun, user: Any) -> JobRun:
    """Put a failed, stopped or canceled run back on its queue (same job id, attempts kept)."""
    run_check_actor(run=run, user=user)
    if run.status not in (RunStatus.FAILED, RunStatus.STOPPED, RunStatus.CANCELED):
        raise InvalidState(f"Only a failed, stopped or canceled run can be requeued; this one is {run.status}.")
    try:
        job = _fetch(run)
        if job.get_status() == JobStatus.CANCELED:
            CanceledJobRegistry(queue=queue_get(name=run.queue)).requeue(job)
        else:
            job.requeue()
    except redis.RedisError as exc:
        raise redis_unavailable(exc) from None
    except InvalidJobOperation as exc:
        raise InvalidState(f"rq refused to requeue the job: {exc}") from None
    JobRun.objects.filter(pk=run.pk).update(
        status=RunStatus.QUEUED, enqueued_at=timezone.now(), ended_at=None, error="", traceback="", result=""
    )
    run.refresh_from_db()
    return run


def runs_prune(*, older_than_days: int) -> int:
    """Delete terminal runs that ended more than ``older_than_days`` days ago; returns how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = JobRun.objects.filter(status__in=TERMINAL, ended_at__lt=cutoff).delete()
    return deleted
