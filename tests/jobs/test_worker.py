"""Real worker processes: failure, timeout, retry with backoff, delay, cancel, stop, progress, dead workers."""

import json
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import RunStatus
from jobs.services import queue_get, run_cancel, run_requeue, run_stop
from tests.jobs.conftest import FAST_DEATH, enqueued, frozen, kill_tree, paused_worker, stored, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def status_of(run):
    run.refresh_from_db()
    return run.status


def test_failing_job_records_error_and_traceback(run_worker, user):
    run = enqueued(name="fail", params={"message": "boom <b>"}, owner=user)
    run_worker("default")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error == "RuntimeError: boom <b>"
    assert "Traceback (most recent call last)" in run.traceback
    assert "jobs/builtin.py" in run.traceback
    assert run.attempts == 1


def test_job_exceeding_its_timeout_is_failed_with_timeout_error(run_worker, user):
    run = enqueued(name="slow", params={"seconds": 30}, owner=user)
    started = time.monotonic()
    run_worker("default")
    assert time.monotonic() - started < 20
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "JobTimeoutException" in run.error
    assert "2 seconds" in run.error


def test_flaky_job_is_retried_with_backoff_then_succeeds(start_worker, user):
    run = enqueued(name="flaky", params={"failures": 2}, owner=user)
    start_worker("default", simple=True, scheduler=True)
    wait_for(lambda: status_of(run) == RunStatus.FINISHED, timeout=30)
    assert run.attempts == 3
    assert run.result == json.dumps("succeeded on attempt 3")
    # the backoff waits 1 s, then 2 s between the three attempts
    assert (run.ended_at - run.enqueued_at) >= timedelta(seconds=3)
    job = queue_get(name="default").fetch_job(run.job_id)
    assert job.meta["flaky_attempt"] == 3
    assert run.traceback == "" and run.error == ""  # the run ended well; each attempt keeps its own error
    assert [a["n"] for a in run.attempt_log] == [1, 2, 3]
    assert [a["status"] for a in run.attempt_log] == [RunStatus.RETRYING, RunStatus.RETRYING, RunStatus.FINISHED]
    for n, attempt in enumerate(run.attempt_log[:2], start=1):
        assert f"attempt {n} fails on purpose" in attempt["error"]
        assert "(it will be retried)" in attempt["error"]
        assert "Traceback (most recent call last)" in attempt["traceback"]
        assert attempt["started_at"] < attempt["ended_at"]
    assert run.attempt_log[2]["error"] == ""
    assert len({a["x"] for a in run.attempt_log}) == 3  # three rq executions


def test_delayed_job_runs_after_its_delay_and_not_before(run_worker, start_worker, user):
    run = enqueued(name="countdown", params={"steps": 1, "delay": 0}, owner=user, delay=3)
    assert run.status == RunStatus.SCHEDULED
    run_worker("default", scheduler=True)
    if timezone.now() < run.scheduled_for:  # the worker came and went before the job was due
        assert status_of(run) == RunStatus.SCHEDULED
    start_worker("default", simple=True, scheduler=True)
    wait_for(lambda: stored(run.job_id).status == RunStatus.FINISHED, timeout=60)
    run.refresh_from_db()
    assert run.started_at >= run.enqueued_at + timedelta(seconds=3)


def test_cancel_queued_and_scheduled_runs_so_they_never_start(run_worker, user):
    queued = enqueued(name="countdown", params={"steps": 1, "delay": 0}, owner=user)
    scheduled = enqueued(name="countdown", params={"steps": 1, "delay": 0}, owner=user, delay=1)
    assert run_cancel(run=queued, user=user).status == RunStatus.CANCELED
    assert run_cancel(run=scheduled, user=user).status == RunStatus.CANCELED
    wait_for(lambda: timezone.now() > scheduled.scheduled_for, timeout=10)  # due: a live one would run now
    run_worker("default", scheduler=True)
    for run in (queued, scheduled):
        run.refresh_from_db()
        assert run.status == RunStatus.CANCELED
        assert run.attempts == 0
    assert len(queue_get(name="default")) == 0


def test_progress_is_on_the_board_while_running_then_stop_kills_it(start_worker, user, redis_client):
    run = enqueued(name="countdown", params={"steps": 100, "delay": 0.05}, owner=user)
    start_worker("default")  # the forking worker: stop kills its work horse

    def mid_progress():
        raw = redis_client.hget(f"boards:job-{run.job_id}", "value")
        value = json.loads(raw) if raw else {}
        return value if 0 < value.get("percent", 0) < 100 else None

    value = wait_for(mid_progress, timeout=20)
    assert value["status"] == "started" and value["total"] == 100
    wait_for(lambda: status_of(run) == RunStatus.STARTED, timeout=10)  # history is written behind (0.5 s)
    run_stop(run=run, user=user)
    wait_for(lambda: status_of(run) == RunStatus.STOPPED, timeout=20)
    assert run.error.startswith("Stopped on request")
    final = json.loads(redis_client.hget(f"boards:job-{run.job_id}", "value"))
    assert final["status"] == "stopped" and final["percent"] < 100
    assert run_requeue(run=run, user=user).status == RunStatus.QUEUED


def test_requeue_failed_run_runs_it_again(run_worker, user):
    run = enqueued(name="fail", params={}, owner=user)
    run_worker("default")
    assert status_of(run) == RunStatus.FAILED
    run_requeue(run=run, user=user)
    assert status_of(run) == RunStatus.QUEUED and run.error == ""
    run_worker("default")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.attempts == 2


def killed_once_started(child_env, tmp_path) -> None:
    """A worker takes the job, freezes itself right after rq's start transaction (the job started, its
    function not called yet) and is SIGKILLed there: no race with the job's own end."""
    victim = paused_worker(child_env, tmp_path / "victim.steps", "1")
    try:
        wait_for(lambda: frozen(victim) or victim.poll() is not None, timeout=60)
        assert frozen(victim), victim.stderr.read().decode()[-3000:]
    finally:
        kill_tree(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=10) == -signal.SIGKILL
        victim.stderr.close()


def test_worker_sigkilled_mid_job_leaves_the_job_retried_not_lost(start_worker, user, child_env, tmp_path):
    run = enqueued(name="countdown", params={"steps": 40, "delay": 0.05}, owner=user)
    killed_once_started(child_env, tmp_path)
    run = stored(run.job_id)
    assert run.status == RunStatus.STARTED and run.worker  # nobody knows yet
    start_worker("default", scheduler=True, extra=FAST_DEATH)
    wait_for(lambda: status_of(run) == RunStatus.FINISHED, timeout=30)
    assert run.attempts == 2
    assert run.result == json.dumps({"steps": 40})


def test_worker_sigkilled_mid_job_without_retries_is_failed_with_reason(start_worker, user, child_env, tmp_path):
    from jobs.builtin import SLOW  # noqa: F401  (slow has no retries)

    run = enqueued(name="slow", params={"seconds": 1.9}, owner=user)
    killed_once_started(child_env, tmp_path)
    start_worker("default", extra=FAST_DEATH)
    wait_for(lambda: status_of(run) == RunStatus.FAILED, timeout=30)
    assert "AbandonedJobError" in run.error
    assert "stopped sending heartbeats" in run.error
    assert run.attempts == 1
    job = queue_get(name="default").fetch_job(run.job_id)
    assert job.get_status() == "failed"
    assert run.job_id in queue_get(name="default").failed_job_registry


def test_worker_timing_follows_settings_and_overrides(settings, clean_queues):
    from rq.job import Job

    from jobs.worker import JobsSimpleWorker, JobsWorker

    settings.JOBS_HEARTBEAT_GRACE = 7
    settings.JOBS_MONITORING_INTERVAL = 3
    settings.JOBS_MAINTENANCE_INTERVAL = 11
    queue = queue_get(name="default")
    worker = JobsWorker([queue], connection=queue.connection)
    job = Job.create("jobs.builtin.noop", connection=queue.connection, timeout=100)
    assert worker.get_heartbeat_ttl(job) == 3 + 7  # rq alone: 3 + 60
    assert worker.dequeue_timeout == 11  # rq alone: worker_ttl - 15 = 405
    fast = JobsSimpleWorker([queue], connection=queue.connection, heartbeat_grace=1, job_monitoring_interval=1)
    assert fast.get_heartbeat_ttl(job) == 2
