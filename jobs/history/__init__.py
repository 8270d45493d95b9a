"""The run history, written behind: events go to a Redis list (jobs.history.events), and flushers apply them
to JobRun rows in batches (jobs.history.flush). This package's names are the jobs app's history interface;
rq job hashes name ``jobs.history.on_job_failure`` as their failure callback."""

from jobs.history.events import (
    ABANDONED_REASON,
    Enqueued,
    history_key,
    on_job_failure,
    run_finished_after,
    run_record_abandoned,
    run_record_enqueued,
    run_record_failed,
    run_record_finished,
    run_record_started,
    runs_record_enqueued,
)
from jobs.history.flush import history_flush, history_flush_all, history_pending, history_sync

__all__ = [
    "ABANDONED_REASON",
    "Enqueued",
    "history_flush",
    "history_flush_all",
    "history_key",
    "history_pending",
    "history_sync",
    "on_job_failure",
    "run_finished_after",
    "run_record_abandoned",
    "run_record_enqueued",
    "run_record_failed",
    "run_record_finished",
    "run_record_started",
    "runs_record_enqueued",
]
