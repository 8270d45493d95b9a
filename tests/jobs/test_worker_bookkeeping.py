"""The worker's coalesced bookkeeping: fewer Redis round trips than rq's SimpleWorker, same end state."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from rq import Queue
from rq.registry import FinishedJobRegistry, StartedJobRegistry
from rq.worker import SimpleWorker

from jobs.history import history_flush_all
from jobs.models import JobRun, RunStatus
from jobs.worker import JobsJob, JobsSimpleWorker

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = 40


class CountingConnection(redis.Connection):
    """Counts what goes to Redis: one send is one round trip (a pipeline is one send)."""

    sends = 0

    def send_packed_command(self, command, check_health=True):
        type(self).sends += 1
        return super().send_packed_command(command, check_health)


def counting_client() -> redis.Redis:
    return redis.Redis(
        connection_pool=redis.ConnectionPool.from_url(settings.REDIS_URL, connection_class=CountingConnection)
    )


def round_trips_per_job(worker_class, queue_name: str) -> tuple[float, Queue]:
    conn = counting_client()
    queue = Queue(queue_name, connection=conn, job_class=JobsJob)
    jobs = [queue.enqueue("jobs.builtin.noop") for _ in range(JOBS)]
    worker = worker_class([queue], connection=conn, job_class=JobsJob)
    start = CountingConnection.sends
    worker.work(burst=True, logging_level="WARNING")
    per_job = (CountingConnection.sends - start) / JOBS
    for job in jobs:
        assert job.get_status(refresh=True) == "finished"
    return per_job, queue


def test_simple_worker_needs_under_half_of_rqs_round_trips_and_leaves_the_same_state(clean_queues):
    rq_per_job, _ = round_trips_per_job(SimpleWorker, "low")
    ours_per_job, queue = round_trips_per_job(JobsSimpleWorker, "default")
    assert ours_per_job <= 8 < 16 <= rq_per_job  # about 7 vs about 18, start-up and teardown included
    # rq's view of the work is the same: every job finished, none left started, the worker accounted for
    assert FinishedJobRegistry(queue=queue).count == JOBS
    assert StartedJobRegistry(queue=queue).count == 0
    assert queue.count == 0
    # the run history got every job, each with one finished attempt
    history_flush_all(connection=queue.connection)
    runs = JobRun.objects.filter(queue="default")
    assert runs.count() == JOBS
    assert {(r.status, r.attempts, len(r.attempt_log)) for r in runs} == {(RunStatus.FINISHED, 1, 1)}


def test_a_worker_keeps_its_heartbeat_and_state_between_jobs_and_while_idle(start_worker, user, redis_client):
    """Coalescing must not starve the worker's key: after each job it is idle, and while it waits for
    work its heartbeat keeps moving (each wake of the blocking dequeue sends one)."""

    from rq.worker import Worker

    from tests.jobs.conftest import enqueued, wait_for

    start_worker("high", simple=True, extra=["--maintenance-interval", "1"])
    worker = wait_for(lambda: next(iter(Worker.all(connection=redis_client)), None))
    runs = [enqueued(name="noop", params={}, owner=user) for _ in range(3)]
    wait_for(lambda: int(redis_client.hget(worker.key, "successful_job_count") or 0) == 3)
    assert redis_client.hget(worker.key, "state") == b"idle"
    first = redis_client.hget(worker.key, "last_heartbeat")

    def beat_again() -> bool:
        assert redis_client.ttl(worker.key) > 60  # the idle TTL (worker_ttl + 60), not a job's short one
        return redis_client.hget(worker.key, "last_heartbeat") != first

    wait_for(beat_again, timeout=30)  # an idle worker keeps sending heartbeats
    from jobs.history import history_sync

    history_sync()
    assert {r.status for r in JobRun.objects.filter(job_id__in=[r.job_id for r in runs])} == {RunStatus.FINISHED}
