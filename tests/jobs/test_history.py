"""The written-behind run history: events applied in order, rows created for jobs enqueued elsewhere."""

import pytest

from jobs.models import JobRun, RunStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_history_applies_events_in_order_and_creates_rows_for_foreign_jobs(clean_queues):
    from rq import Queue

    from jobs.history import history_flush_all, history_pending, run_record_failed, run_record_started

    conn = clean_queues
    job = Queue("default", connection=conn).enqueue("jobs.builtin.noop", meta={"jobs_name": "noop"})
    run_record_started(job=job, worker_name="w1")
    run_record_failed(job=job, exc_string="Traceback...\nRuntimeError: x", retrying=True)
    run_record_started(job=job, worker_name="w2")
    assert history_pending(connection=conn) == 3
    assert history_flush_all(connection=conn) == 3
    run = JobRun.objects.get(job_id=job.id)
    assert (run.name, run.status, run.attempts, run.worker) == ("noop", RunStatus.STARTED, 2, "w2")
    assert history_pending(connection=conn) == 0


def test_flush_waits_for_its_lock_and_history_sync_survives_redis_down(clean_queues, dead_redis_queues):
    from jobs.history import history_sync

    assert history_sync() == 0
