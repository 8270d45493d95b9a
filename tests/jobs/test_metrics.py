"""jobs.metrics: queue depths, workers, running jobs, and the per-minute counters the worker adds to."""

from __future__ import annotations

import pytest

from jobs.metrics import FAILED, FINISHED, STARTED, jobs_metrics
from jobs.queues import queue_get
from jobs.worker import JobsJob, JobsSimpleWorker
from switchboard.metrics import counter_series

pytestmark = pytest.mark.django_db(transaction=True)


def test_depth_and_rates_follow_what_the_worker_does(clean_queues, settings):
    queue = queue_get(name="default")
    before = counter_series([STARTED, FINISHED, FAILED], minutes=1)
    for _ in range(3):
        queue.enqueue("jobs.builtin.noop")
    queue.enqueue("jobs.builtin.fail")
    assert jobs_metrics().numbers["queued: default"] == 4
    JobsSimpleWorker([queue], connection=queue.connection, job_class=JobsJob).work(burst=True, logging_level="WARNING")
    after = counter_series([STARTED, FINISHED, FAILED], minutes=1)
    assert after[STARTED][0] - before[STARTED][0] == 4
    assert after[FINISHED][0] - before[FINISHED][0] == 3
    assert after[FAILED][0] - before[FAILED][0] == 1
    metrics = jobs_metrics()
    assert metrics.numbers["queued: default"] == 0 and metrics.numbers["running"] == 0
    assert set(metrics.rates.values()) == {STARTED, FINISHED, FAILED}
