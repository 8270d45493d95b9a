"""Progress of a running job: kept in job.meta, and published on the run's board when boards is installed.

The boards app is optional: without it, progress lives in job.meta only (the run page polls it).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.apps import apps
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job

from jobs.conf import setting

logger = logging.getLogger(__name__)


def board_publish(*, job_id: str, value: dict[str, Any]) -> None:
    """Publish ``value`` on the run's board (job-<id>) when the boards app is installed."""
    if not apps.is_installed("boards"):
        return
    # Imported here: boards is an optional dependency of jobs.
    from boards.interface import BoardError, board_notify

    try:
        # Private: only whom BOARDS_READ_PERMISSION allows reads it (jobs.interface.board_readable: owner and staff).
        board_notify(name=f"{setting('JOBS_BOARD_PREFIX')}{job_id.lower()}", value=value, private=True)
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
    try:
        job.save_meta()
    except (redis.ConnectionError, redis.TimeoutError) as exc:  # progress is best-effort: the job goes on
        logger.warning("jobs: progress of %s not saved: %s", job.id, exc)
        return value
    board_publish(job_id=job.id, value=value)
    return value


def progress_final(job: Job, status: str, *, refresh: bool) -> None:
    """Close the progress bar of a job that reported progress, with its final status."""
    meta = job.meta or {}
    if refresh:  # a worker's parent process holds the meta it fetched before the job wrote progress
        try:
            meta = job.get_meta(refresh=True)
        except (redis.RedisError, NoSuchJobError):
            pass
    progress = (meta or {}).get("progress")
    if progress:
        board_publish(job_id=job.id, value={**progress, "status": status})
