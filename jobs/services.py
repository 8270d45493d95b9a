"""Jobs writes: enqueue (one or many), cancel, stop, requeue, progress, and the run history recorders.

The recorders (``run_record_*``) are called by the worker hooks in jobs.worker and by the rq failure
callback set on every job this app enqueues; each is idempotent, so a hook and a callback may both fire.
"""

from __future__ import annotations

import json
import logging
import traceback as tb_module
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import redis
from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rq import Retry, get_current_job
from rq.command import send_stop_job_command
from rq.exceptions import AbandonedJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Callback, Job, JobStatus
from rq.registry import ScheduledJobRegistry

from jobs.catalog import JobSpec, spec_get
from jobs.conf import setting
from jobs.models import TERMINAL, JobRun, RunStatus

logger = logging.getLogger(__name__)

RESULT_MAX_CHARS = 2000
ABANDONED_REASON = (
    "Its worker stopped sending heartbeats (killed or lost) while running it; "
    "rq's abandoned-job cleanup found it in the started registry."
)


class JobsError(Exception):
    """A jobs request cannot be done; the message says why and what to do."""

    status = 400


class JobsUnavailable(JobsError):
    """Redis (the queues) does not answer."""

    status = 503


class InvalidParameters(JobsError):
    """A job's parameters do not validate; ``errors`` maps field names to messages."""

    def __init__(self, message: str, errors: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.errors = errors


class NotAllowed(JobsError):
    status = 403


class InvalidState(JobsError):
    """The run is not in a state that allows this action."""

    status = 409


def queue_get(*, name: str):
    """The django-rq queue ``name`` (jobs use the JobsJob class, which also runs Django Tasks)."""
    import django_rq

    from jobs.worker import JobsJob

    return django_rq.get_queue(name, job_class=JobsJob)


def redis_unavailable(exc: Exception) -> JobsUnavailable:
    return JobsUnavailable(
        f"The job queues (Redis) do not answer: {exc}. Check that Redis runs at REDIS_URL, then try again."
    )


# -- enqueue -------------------------------------------------------------------------------------------
def params_clean(*, spec: JobSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Validate ``params`` (missing ones take the form's initial values); returns the job's keyword arguments.

    Raises InvalidParameters with field errors.
    """
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
    """The rq options of a catalog job: timeout, retry with backoff, TTLs, callbacks, meta."""
    return {
        "job_id": job_id,
        "timeout": spec.timeout,
        "retry": Retry(max=spec.retries, interval=list(spec.retry_intervals)) if spec.retries else None,
        "result_ttl": setting("JOBS_RESULT_TTL"),
        "failure_ttl": setting("JOBS_FAILURE_TTL"),
        "meta": {"jobs_name": spec.name},
        "on_failure": Callback(on_job_failure),
    }


def delay_check(delay: float | None) -> float | None:
    if delay is None:
        return None
    if not 0 <= delay <= setting("JOBS_MAX_DELAY"):
        raise InvalidParameters(
            f"delay must be between 0 and {setting('JOBS_MAX_DELAY')} seconds.", {"delay": ["Out of range."]}
        )
    return delay


def job_enqueue(*, name: str, params: dict[str, Any], owner: Any = None, delay: float | None = None) -> JobRun:
    """Validate and enqueue catalog job ``name`` (after ``delay`` seconds if given); returns its JobRun."""
    spec = spec_get(name=name)
    if owner is not None and not spec.allowed(owner):
        raise NotAllowed(f"Job {name!r} may only be started by staff.")
    kwargs = params_clean(spec=spec, params=params)
    delay = delay_check(delay)
    job_id = uuid.uuid4().hex
    now = timezone.now()
    at = now + timedelta(seconds=delay) if delay else None
    # The row exists before the job does, so that the worker's hooks always find it.
    run = JobRun.objects.create(
        job_id=job_id,
        name=spec.name,
        arguments=kwargs,
        queue=spec.queue,
        owner=owner,
        status=RunStatus.SCHEDULED if at else RunStatus.QUEUED,
        enqueued_at=now,
        scheduled_for=at,
        timeout=spec.timeout,
    )
    queue = queue_get(name=spec.queue)
    try:
        options = job_options(spec=spec, job_id=job_id)
        if at:
            queue.enqueue_at(at, spec.func, kwargs=kwargs, **options)
        else:
            queue.enqueue_call(spec.func, kwargs=kwargs, **_call_options(options))
    except redis.RedisError as exc:
        run.delete()
        raise redis_unavailable(exc) from None
    return run


def _call_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


def jobs_enqueue_many(
    *, name: str, params_list: Sequence[dict[str, Any]], owner: Any = None, batch_size: int = 1000
) -> list[str]:
    """Enqueue many runs of one catalog job: one INSERT and one Redis pipeline per batch; returns job ids."""
    spec = spec_get(name=name)
    if owner is not None and not spec.allowed(owner):
        raise NotAllowed(f"Job {name!r} may only be started by staff.")
    cleaned = [params_clean(spec=spec, params=params) for params in params_list]
    queue = queue_get(name=spec.queue)
    ids: list[str] = []
    for start in range(0, len(cleaned), batch_size):
        chunk = cleaned[start : start + batch_size]
        now = timezone.now()
        job_ids = [uuid.uuid4().hex for _ in chunk]
        JobRun.objects.bulk_create(
            [
                JobRun(
                    job_id=job_id,
                    name=spec.name,
                    arguments=kwargs,
                    queue=spec.queue,
                    owner=owner,
                    enqueued_at=now,
                    timeout=spec.timeout,
                )
                for job_id, kwargs in zip(job_ids, chunk, strict=True)
            ]
        )
        datas = []
        for job_id, kwargs in zip(job_ids, chunk, strict=True):
            options = job_options(spec=spec, job_id=job_id)
            datas.append(
                queue.prepare_data(
                    spec.func,
                    kwargs=kwargs,
                    timeout=options["timeout"],
                    result_ttl=options["result_ttl"],
                    failure_ttl=options["failure_ttl"],
                    job_id=job_id,
                    meta=options["meta"],
                    retry=options["retry"],
                    on_failure=options["on_failure"],
                )
            )
        try:
            with queue.connection.pipeline() as pipe:
                queue.enqueue_many(datas, pipeline=pipe)
                pipe.execute()
        except redis.RedisError as exc:
            JobRun.objects.filter(job_id__in=job_ids).delete()
            raise redis_unavailable(exc) from None
        ids.extend(job_ids)
    return ids


# -- actions on a run ---------------------------------------------------------------------------------
def run_check_actor(*, run: JobRun, user: Any) -> None:
    """Only the run's owner or staff may act on it."""
    if not (user and user.is_authenticated and (user.is_staff or run.owner_id == user.pk)):
        raise NotAllowed("Only the user who started this run, or staff, may change it.")


def _fetch(run: JobRun) -> Job:
    from jobs.worker import JobsJob

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
    if run.status != RunStatus.STARTED:
        raise InvalidState(f"Only a started run can be stopped; this one is {run.status}.")
    try:
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
            from rq.registry import CanceledJobRegistry

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


# -- progress (called inside a job) ------------------------------------------------------------------
def board_publish(*, job_id: str, value: dict[str, Any]) -> None:
    """Publish ``value`` on the run's board (job-<id>) when the boards app is installed."""
    if not apps.is_installed("boards"):
        return
    from boards.interface import BoardError, board_notify

    try:
        board_notify(name=f"{setting('JOBS_BOARD_PREFIX')}{job_id.lower()}", value=value)
    except (BoardError, redis.RedisError) as exc:
        logger.warning("jobs: progress of %s not published: %s", job_id, exc)


def job_progress(*, current: int, total: int, message: str = "") -> dict[str, Any]:
    """Report the running job's progress: kept in job.meta and published on its board."""
    job = get_current_job()
    percent = round(100 * current / total) if total else 100
    value = {"status": "started", "current": current, "total": total, "percent": percent, "message": message}
    if job is None:
        return value
    job.meta["progress"] = value
    job.save_meta()
    board_publish(job_id=job.id, value=value)
    return value


# -- history recorders (worker hooks and callbacks) ----------------------------------------------
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


def _ensure_run(job: Job) -> None:
    """Create the run of a job this app did not enqueue (a cron job, a Django Task) on first sight."""
    meta = job.meta or {}
    kwargs = job.kwargs if isinstance(job.kwargs, dict) else {}
    try:
        arguments = json.loads(json.dumps({"args": list(job.args or ()), **kwargs}, default=str))
    except (TypeError, ValueError):
        arguments = {}
    try:
        _create_run(job, meta, arguments)
    except IntegrityError:
        pass  # created meanwhile by whoever enqueued it


def _create_run(job: Job, meta: dict[str, Any], arguments: dict[str, Any]) -> None:
    JobRun.objects.get_or_create(
        job_id=job.id,
        defaults={
            "name": str(meta.get("jobs_name") or job.func_name)[:100],
            "arguments": arguments,
            "queue": job.origin,
            "status": RunStatus.QUEUED,
            "enqueued_at": job.enqueued_at or timezone.now(),
            "timeout": job.timeout if job.timeout and job.timeout > 0 else None,
        },
    )


def _progress_final(job: Job, status: str) -> None:
    try:  # the job's own process wrote the progress; this one (a worker's parent) may hold stale meta
        meta = job.get_meta(refresh=True)
    except (redis.RedisError, NoSuchJobError):
        meta = job.meta or {}
    progress = (meta or {}).get("progress")
    if progress:
        board_publish(job_id=job.id, value={**progress, "status": status})


def run_record_started(*, job: Job, worker_name: str) -> None:
    """A worker starts an attempt of ``job``."""
    updated = JobRun.objects.filter(job_id=job.id).update(
        status=RunStatus.STARTED,
        started_at=timezone.now(),
        ended_at=None,
        attempts=F("attempts") + 1,
        worker=worker_name[:100],
    )
    if not updated:
        _ensure_run(job)
        run_record_started(job=job, worker_name=worker_name)


def run_record_finished(*, job: Job) -> None:
    """``job`` returned: store a summary of its result."""
    result = job._result if hasattr(job, "_result") else None
    updated = JobRun.objects.filter(job_id=job.id).update(
        status=RunStatus.FINISHED, ended_at=timezone.now(), result=_summary(result), error="", traceback=""
    )
    if not updated:
        _ensure_run(job)
        run_record_finished(job=job)
        return
    _progress_final(job, "finished")


def run_record_failed(*, job: Job, exc_string: str, retrying: bool, stopped: bool = False) -> None:
    """An attempt of ``job`` failed (raised, timed out, was stopped or lost its work horse)."""
    if stopped:
        status, error = RunStatus.STOPPED, "Stopped on request: its work horse was killed."
    else:
        status = RunStatus.RETRYING if retrying else RunStatus.FAILED
        error = _last_line(exc_string)
        if retrying:
            error = f"{error} (it will be retried)"
    with transaction.atomic():
        updated = JobRun.objects.filter(job_id=job.id).update(
            status=status, ended_at=timezone.now(), error=error, traceback=exc_string[-20000:]
        )
    if not updated:
        _ensure_run(job)
        run_record_failed(job=job, exc_string=exc_string, retrying=retrying, stopped=stopped)
        return
    if not retrying:
        _progress_final(job, status)


def run_record_abandoned(*, job: Job) -> None:
    """rq's cleanup found ``job`` in a started registry with no live heartbeat: its worker died."""
    retrying = bool(job.retries_left and job.retries_left > 0)
    stack = "".join(tb_module.format_stack(limit=8))
    run_record_failed(
        job=job, exc_string=f"{stack}rq.exceptions.AbandonedJobError: {ABANDONED_REASON}", retrying=retrying
    )


def on_job_failure(job: Job, connection: Any, exc_type: type, exc_value: BaseException, tb: Any) -> None:
    """rq failure callback of every job this app enqueues: records an abandoned job wherever cleanup runs.

    Ordinary failures are recorded by the worker hook (it knows about stop requests); this callback
    covers the abandoned-job path, which may run in any process that cleans the started registry.
    """
    if isinstance(exc_value, AbandonedJobError) or exc_type is AbandonedJobError:
        run_record_abandoned(job=job)
