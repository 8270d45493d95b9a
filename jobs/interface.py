"""The jobs app's public interface for sibling apps and hosts (everything else may change without notice).

- ``job_enqueue(*, name, params, owner=None, delay=None) -> Enqueued``: validate and enqueue a catalog job.
- ``jobs_enqueue_many(*, name, params_list, owner=None) -> list[str]``: many runs of one job, pipelined.
- ``job_progress(*, current, total, message="")``: called inside a job; kept in job.meta, and published on
  the run's board when the boards app is installed.
- ``run_get(*, job_id) -> JobRun | None``: a run of the history.
- ``JobSpec``: a catalog entry (name one in JOBS_CATALOG by dotted path).
- ``JobsError`` and its subclasses: what a request can fail with (each has an HTTP ``status``).
"""

from jobs.catalog import JobSpec, UnknownJob
from jobs.errors import InvalidParameters, InvalidState, JobsError, JobsUnavailable, NotAllowed
from jobs.progress import job_progress
from jobs.selectors import run_get
from jobs.services import job_enqueue, jobs_enqueue_many

__all__ = [
    "InvalidParameters",
    "InvalidState",
    "JobSpec",
    "JobsError",
    "JobsUnavailable",
    "NotAllowed",
    "UnknownJob",
    "job_enqueue",
    "job_progress",
    "jobs_enqueue_many",
    "run_get",
]
