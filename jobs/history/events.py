"""Run history events: enqueue, the worker hooks and rq callbacks push them to a Redis list, most of them
inside the Redis transaction that makes the change they record (jobs.history.flush applies them)."""

from __future__ import annotations

import json
import logging
import traceback as tb_module
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from rq.exceptions import AbandonedJobError
from rq.job import Job

from jobs.conf import setting
from jobs.metrics import FAILED, FINISHED, STARTED
from jobs.models import RunStatus
from jobs.progress import progress_final
from switchboard.metrics import counter_add

logger = logging.getLogger(__name__)

RESULT_MAX_CHARS = 2000
TRACEBACK_MAX_CHARS = 20000
# Each attempt of the attempt log keeps the end of its traceback (the run keeps its last one whole).
ATTEMPT_TRACEBACK_CHARS = 4000
ABANDONED_REASON = (
    "Its worker stopped sending heartbeats (killed or lost) while running it; "
    "rq's abandoned-job cleanup found it in the started registry."
)


def history_key() -> str:
    return f"{setting('JOBS_HISTORY_KEY')}:events"


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


def _store(job: Job, event: str, pipeline: Any) -> None:
    """Push ``event`` in the caller's pipeline (its transaction) if given, else on its own."""
    (pipeline if pipeline is not None else job.connection).rpush(history_key(), event)


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
            "id": job_ids[0] if len(job_ids) == 1 else _ID_SLOT,  # first key: the slot's first occurrence
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
        return [template]
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
    _store(job, event, pipeline)
    counter_add(STARTED, pipeline=pipeline, connection=job.connection)  # the operations page's rate


def run_record_finished(*, job: Job, execution_id: str = "", pipeline: Any = None) -> None:
    """``job`` returned: keep a summary of its result; with ``pipeline``, in rq's success transaction.

    The event carries no job description: the "started" event before it (same list, same worker) has it.
    """
    event = _event(job, "finished", job.ended_at, x=execution_id, result=_summary(getattr(job, "_result", None)))
    _store(job, event, pipeline)
    counter_add(FINISHED, pipeline=pipeline, connection=job.connection)
    if pipeline is None:
        run_finished_after(job=job)


def run_finished_after(*, job: Job) -> None:
    """After the "finished" event is stored: close the progress bar of a job that reported progress."""
    progress_final(job, "finished", refresh=False)


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
    fields = {"x": execution_id, "status": status, "error": error, "traceback": traceback, "job": _job_info(job)}
    _store(job, _event(job, "failed", None, **fields), None)
    counter_add(FAILED, connection=job.connection)
    if not retrying:
        progress_final(job, status, refresh=in_parent or stopped)


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
