"""Jobs writes: enqueue (one or many), cancel, stop, requeue, prune. Progress: jobs.progress; history: jobs.history."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import redis
from django.utils import timezone
from rq import Retry
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Callback, Job, JobStatus
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
from jobs.history import Enqueued, history_sync, run_record_enqueued, runs_record_enqueued
from jobs.models import TERMINAL, JobRun, RunStatus
from jobs.queues import queue_get
from jobs.worker import JobsJob
from switchboard.http import BadRequest, value_check

ACTIVE = (RunStatus.QUEUED, RunStatus.SCHEDULED, RunStatus.STARTED, RunStatus.RETRYING)


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
        lock = connection.lock(f"jobs:active-lock:{user.pk}", timeout=30, blocking_timeout=10)
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

    The job and its "queued" history event go to Redis in one pipeline (one round trip, atomic); the
    JobRun row is written by the next history flush (jobs.history). Returns what was enqueued.
    """
    spec = spec_get(name=name)
    if owner is not None and not spec.allowed(owner):
        raise NotAllowed(f"Job {name!r} may only be started by staff.")
    kwargs = params_clean(spec=spec, params=params)
    delay = delay_check(delay)
    now = timezone.now()
    at = now + timedelta(seconds=delay) if delay else None
    run = _enqueued(spec=spec, kwargs=kwargs, owner=owner, now=now, at=at)
    queue = queue_get(name=spec.queue)
    try:
        with queue.connection.pipeline() as pipe:
            job = queue.create_job(spec.func, kwargs=kwargs, **_create_options(spec=spec, job_id=run.job_id))
            if at:
                queue.schedule_job(job, at, pipeline=pipe)
            else:
                queue.enqueue_job(job, pipeline=pipe)
            run_record_enqueued(run=run, pipeline=pipe)
            pipe.execute()
    except redis.RedisError as exc:
        raise redis_unavailable(exc) from None
    return run


def _enqueued(
    *, spec: JobSpec, kwargs: dict[str, Any], owner: Any, now: datetime, at: datetime | None, job_id: str = ""
) -> Enqueued:
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


def _create_options(*, spec: JobSpec, job_id: str) -> dict[str, Any]:
    return {k: v for k, v in job_options(spec=spec, job_id=job_id).items() if v is not None}


def jobs_enqueue_many(
    *, name: str, params_list: Sequence[dict[str, Any]], owner: Any = None, batch_size: int = 1000
) -> list[str]:
    """Enqueue many runs of one catalog job: one Redis pipeline per batch (jobs and history events).

    Equal parameters are validated once, and their runs' history events share one JSON encoding.
    """
    spec = spec_get(name=name)
    if owner is not None and not spec.allowed(owner):
        raise NotAllowed(f"Job {name!r} may only be started by staff.")
    validated: dict[str, dict[str, Any]] = {}  # parameters (as JSON) -> the job's keyword arguments
    keys = []
    for params in params_list:
        key = json.dumps(params, sort_keys=True, default=str)
        if key not in validated:
            validated[key] = params_clean(spec=spec, params=params)
        keys.append(key)
    queue = queue_get(name=spec.queue)
    options = {
        "timeout": spec.timeout,
        "result_ttl": setting("JOBS_RESULT_TTL"),
        "failure_ttl": setting("JOBS_FAILURE_TTL"),
        "retry": Retry(max=spec.retries, interval=list(spec.retry_intervals)) if spec.retries else None,
        "on_failure": Callback("jobs.history.on_job_failure"),
    }
    ids: list[str] = []
    for start in range(0, len(keys), batch_size):
        batch_ids: dict[str, list[str]] = {}  # parameters -> job ids, in order
        datas = []
        for key in keys[start : start + batch_size]:
            job_id = uuid.uuid4().hex
            batch_ids.setdefault(key, []).append(job_id)
            datas.append(queue.prepare_data(spec.func, kwargs=validated[key], job_id=job_id, **options))
        now = timezone.now()
        try:
            with queue.connection.pipeline() as pipe:
                queue.enqueue_many(datas, pipeline=pipe)
                for key, job_ids in batch_ids.items():
                    first = _enqueued(spec=spec, kwargs=validated[key], owner=owner, now=now, at=None, job_id="-")
                    runs_record_enqueued(first=first, job_ids=job_ids, pipeline=pipe)
                pipe.execute()
        except redis.RedisError as exc:
            raise redis_unavailable(exc) from None
        ids.extend(data.job_id for data in datas)
    return ids


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
