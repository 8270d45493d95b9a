"""A job longer than the heartbeat window is never taken for abandoned while it runs, on every worker kind;
a JobsWorker subclass's job_class is the one it runs."""

from __future__ import annotations

import time

import pytest
from rq.registry import FailedJobRegistry

from jobs.models import RunStatus
from jobs.services import queue_get
from jobs.worker import JobsJob, JobsSimpleWorker, JobsWorker
from tests.jobs.conftest import enqueued, stored, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# Heartbeat window: 2 s monitoring interval + 1 s grace = 3 s, for a 6 s job.
SHORT_HEARTBEAT = ["--monitoring-interval", "2", "--heartbeat-grace", "1", "--maintenance-interval", "1"]
KINDS = {
    "forking": {"simple": False, "extra": SHORT_HEARTBEAT},
    "simple": {"simple": True, "extra": SHORT_HEARTBEAT},
    "pool": {"pool": 2, "extra": SHORT_HEARTBEAT},
}


def statuses_while_cleaning(job_id: str, queue_name: str, timeout: float = 30) -> set[tuple[str, str]]:
    """Another worker's maintenance, twice a second until the run finishes: rq's started-registry cleanup
    (in this process's main thread, as rq's death penalty needs). Returns the (rq status, run status)
    pairs seen after each cleanup, before the end."""
    queue = queue_get(name=queue_name)
    seen: set[tuple[str, str]] = set()
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, f"the run did not finish within {timeout}s"
        queue.started_job_registry.cleanup()
        rq_status, run_status = queue.fetch_job(job_id).get_status().value, stored(job_id).status
        if rq_status == "finished":
            return seen
        seen.add((rq_status, run_status))
        time.sleep(0.5)


@pytest.mark.parametrize("kind", KINDS)
def test_job_longer_than_the_heartbeat_window_is_not_abandoned_while_it_runs(kind, start_worker, user):
    run = enqueued(name="countdown", params={"steps": 12, "delay": 0.5}, owner=user)  # 6 s, 1 retry left
    start_worker("default", **KINDS[kind])
    wait_for(lambda: stored(run.job_id).status == RunStatus.STARTED, timeout=20)
    seen = statuses_while_cleaning(run.job_id, "default")
    assert seen == {("started", RunStatus.STARTED)}  # never failed, requeued or retrying while it ran
    run = stored(run.job_id)  # a copy wrongly requeued would show below: a retry used, queued or started
    assert run.status == RunStatus.FINISHED
    assert run.attempts == 1 and [a["status"] for a in run.attempt_log] == [RunStatus.FINISHED]
    queue = queue_get(name="default")
    job = queue.fetch_job(run.job_id)
    assert job.get_status() == "finished" and job.retries_left == 1
    assert run.job_id not in FailedJobRegistry(queue=queue)
    assert run.job_id in queue.finished_job_registry
    assert queue.started_job_registry.count == 0 and len(queue) == 0


class TaggingJob(JobsJob):
    """Leaves a mark in Redis when it runs: proves which job class the worker used."""

    def perform(self):
        self.connection.set(f"test:tagged:{self.id}", "1")
        return super().perform()


class TaggingSimpleWorker(JobsSimpleWorker):
    job_class = TaggingJob


class TaggingWorker(JobsWorker):
    job_class = TaggingJob


@pytest.mark.parametrize("worker_class", [TaggingSimpleWorker, TaggingWorker])
def test_subclass_job_class_attribute_is_used(worker_class, clean_queues):
    queue = queue_get(name="default")
    job = queue.enqueue("jobs.builtin.noop")
    worker = worker_class([queue], connection=queue.connection)
    assert worker.job_class is TaggingJob
    worker.work(burst=True, logging_level="WARNING")
    assert queue.connection.get(f"test:tagged:{job.id}") == b"1"
    queue.connection.delete(f"test:tagged:{job.id}")
    # an explicit job_class still wins over the class attribute, and plain JobsWorker keeps JobsJob
    assert worker_class([queue], connection=queue.connection, job_class=JobsJob).job_class is JobsJob
    assert JobsSimpleWorker([queue], connection=queue.connection).job_class is JobsJob


def test_worker_keeps_sending_heartbeats_during_a_long_job(start_worker, user):
    """The simple worker's job heartbeat moves while the job runs (rq's SimpleWorker sends none)."""
    run = enqueued(name="countdown", params={"steps": 10, "delay": 0.5}, owner=user)
    start_worker("default", simple=True, extra=SHORT_HEARTBEAT)
    queue = queue_get(name="default")
    wait_for(lambda: queue.started_job_registry.count == 1, timeout=20)
    job = JobsJob.fetch(run.job_id, connection=queue.connection)
    first = job.last_heartbeat
    time.sleep(2.5)
    job.refresh()
    assert job.get_status() == "started" and job.last_heartbeat > first
