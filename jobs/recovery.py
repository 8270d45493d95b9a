"""What dead workers leave behind: abandoned jobs are recorded, and jobs left in rq's intermediate list go
back to their queue, to run once."""

from __future__ import annotations

import logging
from typing import Any

from rq.exceptions import AbandonedJobError
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.utils import now

from jobs.history import run_record_abandoned
from jobs.outage import safely

logger = logging.getLogger("jobs.worker")


def record_abandoned(job: Job, exc_type: type, exc_value: BaseException, tb: Any) -> bool:
    """Worker exception handler: records abandoned jobs (those without this app's failure callback too)."""
    if exc_type is AbandonedJobError or isinstance(exc_value, AbandonedJobError):
        safely("an abandoned job", run_record_abandoned, job=job)
    return True


# Back from the intermediate list to the head of the queue, only if it is still in the list (atomic).
_REQUEUE = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
    redis.call('LPUSH', KEYS[2], ARGV[1])
    redis.call('DEL', KEYS[3])
    return 1
end
redis.call('DEL', KEYS[3])
return 0
"""


def intermediate_requeue(queue: Queue, *, grace: float) -> list[str]:
    """Put back on ``queue`` the jobs a dead worker left in its intermediate list; returns their ids.

    rq's reliable dequeue BLMOVEs a job from the queue into ``<queue>:intermediate``; the worker's start
    transaction then takes it out and marks it started. A worker killed between the two (SIGKILL, the
    OOM killer, a Redis restart that drops the BLMOVE's answer) leaves the job there, status queued, where
    no worker looks. Such a job never started, so it goes back to the head of the queue, to run once: when
    a maintenance pass finds it there a second time, ``grace`` seconds or more after the first (a live
    worker takes milliseconds between the two steps). A job that is gone or no longer queued is only
    taken out of the list.
    """
    intermediate = queue.intermediate_queue
    requeued = []
    for job_id in intermediate.get_job_ids():
        if job_id in queue.started_job_registry:
            continue
        job = queue.fetch_job(job_id)
        if job is None or job.get_status(refresh=False) != JobStatus.QUEUED:
            intermediate.remove(job_id)
            queue.connection.delete(intermediate.get_first_seen_key(job_id))
            continue
        if intermediate.set_first_seen(job_id):
            continue
        first_seen = intermediate.get_first_seen(job_id)
        if first_seen is None or (now() - first_seen).total_seconds() < grace:
            continue
        keys = [intermediate.key, queue.key, intermediate.get_first_seen_key(job_id)]
        if queue.connection.eval(_REQUEUE, len(keys), *keys, job_id):
            logger.warning("jobs: job %s was left in %s by a dead worker; put back on the queue", job_id,
                           intermediate.key)  # fmt: skip
            requeued.append(job_id)
    return requeued
