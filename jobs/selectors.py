"""Jobs reads: recent runs, one run, its live state in rq, the catalog a user may start."""

from __future__ import annotations

from typing import Any

import redis
from django.urls import NoReverseMatch, reverse
from django.utils.dateparse import parse_datetime
from rq.exceptions import NoSuchJobError

from jobs.catalog import JobSpec, catalog_specs
from jobs.conf import setting
from jobs.models import JobRun, RunStatus
from jobs.queues import queue_get


def runs_recent(*, user: Any, status: str | None = None, limit: int | None = None) -> list[JobRun]:
    """The newest runs ``user`` may see (staff: all; others: their own), optionally of one status."""
    if not (user and user.is_authenticated):
        return []
    runs = JobRun.objects.select_related("owner")
    if not user.is_staff:
        runs = runs.filter(owner=user)
    if status:
        runs = runs.filter(status=status)
    return list(runs.order_by("-id")[: limit or setting("JOBS_PAGE_SIZE")])


def run_get(*, job_id: str) -> JobRun | None:
    """The run of rq job ``job_id``, or None."""
    return JobRun.objects.select_related("owner").filter(job_id=job_id).first()


def run_visible_to(*, run: JobRun, user: Any) -> bool:
    """Owners and staff see a run."""
    return bool(user and user.is_authenticated and (user.is_staff or run.owner_id == user.pk))


def run_live(*, run: JobRun) -> dict[str, Any]:
    """What rq knows now: its status and the progress kept in job.meta (``available`` False if Redis is down)."""
    try:
        job = queue_get(name=run.queue).fetch_job(run.job_id)
    except (redis.RedisError, NoSuchJobError):
        return {"available": False, "rq_status": None, "progress": None}
    except KeyError:
        return {"available": True, "rq_status": None, "progress": None}
    if job is None:
        return {"available": True, "rq_status": None, "progress": None}
    return {"available": True, "rq_status": job.get_status(refresh=False), "progress": job.meta.get("progress")}


def run_actions(*, run: JobRun, user: Any) -> list[str]:
    """The actions ``user`` may take on ``run`` now."""
    if not run_visible_to(run=run, user=user):
        return []
    if run.status in (RunStatus.QUEUED, RunStatus.SCHEDULED):
        return ["cancel"]
    if run.status == RunStatus.STARTED:
        return ["stop"]
    if run.status in (RunStatus.FAILED, RunStatus.STOPPED, RunStatus.CANCELED):
        return ["requeue"]
    return []


def run_attempts(*, run: JobRun) -> list[dict[str, Any]]:
    """The run's attempt log, oldest first, with its times as datetimes."""
    return [
        {
            **entry,
            "started_at": parse_datetime(entry.get("started_at") or ""),
            "ended_at": parse_datetime(entry.get("ended_at") or ""),
        }
        for entry in run.attempt_log
    ]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def run_as_dict(*, run: JobRun, live: dict[str, Any] | None = None, user: Any = None) -> dict[str, Any]:
    """The JSON form of a run (GET /jobs/runs/<id>.json)."""
    data = {
        "id": run.job_id,
        "name": run.name,
        "arguments": run.arguments,
        "queue": run.queue,
        "status": run.status,
        "owner": run.owner.get_username() if run.owner else None,
        "enqueued_at": _iso(run.enqueued_at),
        "scheduled_for": _iso(run.scheduled_for),
        "started_at": _iso(run.started_at),
        "ended_at": _iso(run.ended_at),
        "attempts": run.attempts,
        "attempt_log": [
            {key: entry.get(key) for key in ("n", "status", "started_at", "ended_at", "worker", "error", "traceback")}
            for entry in run.attempt_log
        ],
        "worker": run.worker,
        "result": run.result,
        "error": run.error,
        "traceback": run.traceback,
        "terminal": run.is_terminal,
        "board": run.board_name,
        "url": reverse("jobs:run", args=[run.job_id]),
        "json_url": reverse("jobs:run_json", args=[run.job_id]),
        "actions": run_actions(run=run, user=user),
    }
    try:
        data["board_url"] = reverse("boards:board", args=[run.board_name])
    except NoReverseMatch:
        data["board_url"] = None
    if live is not None:
        data["rq_status"] = live["rq_status"]
        data["progress"] = live["progress"]
        data["queues_available"] = live["available"]
    return data


def catalog_for(*, user: Any) -> list[tuple[JobSpec, bool]]:
    """The catalog, each entry with whether ``user`` may start it."""
    return [(spec, spec.allowed(user)) for spec in catalog_specs()]
