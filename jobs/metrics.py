"""What the operations page shows of jobs: queue depths, workers and their heartbeats, running jobs.

Read from rq's own structures (queue lengths, its worker set and started registries): a few cheap Redis
reads, bounded by the number of queues, workers and running jobs, never the history table. The per-minute
counters (started, finished, failed) are added where the worker records those events.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rq import Worker
from rq.job import Job
from rq.registry import StartedJobRegistry

from jobs.conf import setting
from jobs.queues import queue_get
from switchboard.metrics import Metrics

STARTED, FINISHED, FAILED = "jobs.started", "jobs.finished", "jobs.failed"
RUNNING_SHOWN = 20  # running jobs listed at most


def _age(when: datetime | None, now: datetime) -> float | None:
    if when is None:
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return round((now - when).total_seconds(), 1)


def jobs_metrics() -> Metrics:
    """Per queue its depth, the workers with heartbeat age and current job, running jobs with progress."""
    now = datetime.now(UTC)
    names = setting("JOBS_QUEUES")
    connection = queue_get(name=names[0]).connection
    numbers = {f"queued: {name}": queue_get(name=name).count for name in names}
    workers = [
        {
            "worker": worker.name,
            "queues": ", ".join(worker.queue_names()),
            "state": worker.get_state(),
            "heartbeat age (s)": _age(worker.last_heartbeat, now),
            "current job": worker.get_current_job_id() or "",
        }
        for worker in sorted(Worker.all(connection=connection), key=lambda w: w.name)
    ]
    running_ids = [
        (name, job_id)
        for name in names
        for job_id in StartedJobRegistry(name, connection=connection).get_job_ids(0, RUNNING_SHOWN - 1)
    ][:RUNNING_SHOWN]
    jobs = Job.fetch_many([job_id for _, job_id in running_ids], connection=connection)
    running = []
    for (queue, job_id), job in zip(running_ids, jobs, strict=True):
        if job is None:
            continue
        progress = job.meta.get("progress") or {}
        running.append(
            {
                "job": job_id,
                "queue": queue,
                "function": job.func_name,
                "running (s)": _age(job.started_at, now),
                "progress %": progress.get("percent", ""),
                "message": progress.get("message", ""),
            }
        )
    numbers["workers"] = len(workers)
    numbers["running"] = len(running)
    return Metrics(
        title="Jobs",
        numbers=numbers,
        rates={"started / min": STARTED, "finished / min": FINISHED, "failed / min": FAILED},
        tables={"Workers": workers, "Running jobs": running},
    )
