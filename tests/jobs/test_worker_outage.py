"""Real worker processes and a Redis of the test's own that restarts: the worker outlives the outage."""

from __future__ import annotations

import pytest

from jobs.models import RunStatus
from tests.jobs.conftest import QUEUES, enqueued, stored, wait_for

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
