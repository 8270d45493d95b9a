"""Real worker processes and a Redis of the test's own that restarts: the worker outlives the outage."""

from __future__ import annotations

import signal
import time

import pytest

from jobs.models import RunStatus
from tests.jobs.conftest import QUEUES, enqueued, kill_tree, stored, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# The monitor writes the working time every second, so the outage always falls on a Redis call.
MONITOR_EVERY_SECOND = ["--monitoring-interval", "1", "--heartbeat-grace", "10", "--maintenance-interval", "1"]


@pytest.fixture
def own_redis(restartable_durable_redis, settings):
    """The queues on a restartable Redis (with its AOF, like the site's) instead of the suite's."""
    settings.RQ_QUEUES = {name: {"URL": restartable_durable_redis.url, "DEFAULT_TIMEOUT": 300} for name in QUEUES}
    return restartable_durable_redis


def test_worker_running_a_job_survives_a_redis_restart_and_runs_the_next_job(own_redis, start_worker, user):
    worker = start_worker("default", extra=MONITOR_EVERY_SECOND)
    run = enqueued(name="countdown", params={"steps": 30, "delay": 0.1}, owner=user)
    wait_for(lambda: stored(run.job_id).status == RunStatus.STARTED, timeout=20)
    own_redis.restart(down_for=1.5)
    assert wait_for(lambda: stored(run.job_id).status == RunStatus.FINISHED, timeout=30)
    assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
    after = enqueued(name="countdown", params={"steps": 1, "delay": 0.1}, owner=user)
    assert wait_for(lambda: stored(after.job_id).status == RunStatus.FINISHED, timeout=20)
    assert worker.poll() is None


def scheduler_lock_holder(client, queue: str) -> int | None:
    """The pid of the worker whose scheduler holds ``queue``'s rq scheduler lock."""
    name = client.get(f"rq:scheduler-lock:{queue}")
    pid = name and client.hget(f"rq:scheduler:{name.decode()}", "pid")
    if not pid:
        return None
    with open(f"/proc/{int(pid)}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])  # the scheduler process's parent: its worker


def test_delayed_job_runs_within_seconds_after_the_scheduler_lock_holder_is_sigkilled(start_worker, user):
    from jobs.services import queue_get

    client = queue_get(name="default").connection
    first = start_worker("default", simple=True, scheduler=True, extra=["--maintenance-interval", "1"])
    second = start_worker("default", simple=True, scheduler=True, extra=["--maintenance-interval", "1"])
    holder = wait_for(lambda: scheduler_lock_holder(client, "default"), timeout=20)
    assert holder in (first.pid, second.pid)
    kill_tree(holder, signal.SIGKILL)  # the worker and its scheduler process: the lock is not released
    run = enqueued(name="countdown", params={"steps": 1, "delay": 0.1}, owner=user, delay=1)
    started = time.monotonic()
    wait_for(lambda: stored(run.job_id).status == RunStatus.FINISHED, timeout=15)
    assert time.monotonic() - started < 12  # rq's own lock would hold the queue for 61 s
