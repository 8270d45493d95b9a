"""The jobs app's public interface for sibling apps and hosts (everything else may change without notice).

- ``job_enqueue(*, name, params, owner=None, delay=None) -> Enqueued``: validate and enqueue a catalog job.
- ``jobs_enqueue_many(*, name, params_list, owner=None) -> list[str]``: many runs of one job: their rows in one
  bulk INSERT in the caller's transaction, the jobs pushed in one pipeline per 1,000 on commit.
- ``job_progress(*, current, total, message="")``: called inside a job; kept in job.meta, and published on
  the run's board when the boards app is installed.
- ``run_get(*, job_id) -> JobRun | None``: a run of the history.
- ``JobSpec``: a catalog entry (name one in JOBS_CATALOG by dotted path).
- ``JobsError`` and its subclasses: what a request can fail with (each has an HTTP ``status`` and ``code``).
- ``board_readable(user, board) -> bool``: the read permission of the private progress boards jobs publish
  (``job-<id>``): the run's owner and staff; other private boards: staff. Wire it in as the boards app's
  ``BOARDS_READ_PERMISSION = "jobs.interface.board_readable"``.
"""

from __future__ import annotations

from typing import Any

from jobs.catalog import JobSpec, UnknownJob
from jobs.conf import setting
from jobs.errors import InvalidParameters, InvalidState, JobsError, JobsUnavailable, NotAllowed
from jobs.history import history_sync
from jobs.progress import job_progress
from jobs.selectors import run_get, run_visible_to
from jobs.services import job_enqueue, jobs_enqueue_many

__all__ = [
    "InvalidParameters",
    "InvalidState",
    "JobSpec",
    "JobsError",
    "JobsUnavailable",
    "NotAllowed",
    "UnknownJob",
    "board_readable",
    "job_enqueue",
    "job_progress",
    "jobs_enqueue_many",
    "run_get",
]


def board_readable(user: Any, board: str) -> bool:
    """May ``user`` read board ``board``? A run's board: whoever may see the run; any other: staff."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    prefix = setting("JOBS_BOARD_PREFIX")
    if not board.startswith(prefix):
        return False
    job_id = board[len(prefix) :]
    run = run_get(job_id=job_id)
    if run is None and history_sync():  # the run's row may still be an event waiting in Redis
        run = run_get(job_id=job_id)
    return run is not None and run_visible_to(run=run, user=user)
