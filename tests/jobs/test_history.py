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


def test_a_malformed_event_is_dropped_without_blocking_the_others(clean_queues):
    import json

    from rq import Queue

    from jobs.history import history_flush_all, history_key, history_pending, run_record_started

    conn = clean_queues
    conn.rpush(history_key(), json.dumps({"id": "broken", "e": "started"}), b"not json")
    job = Queue("default", connection=conn).enqueue("jobs.builtin.noop", meta={"jobs_name": "noop"})
    run_record_started(job=job, worker_name="w1")
    assert history_flush_all(connection=conn) == 3
    assert history_pending(connection=conn) == 0
    assert JobRun.objects.get(job_id=job.id).status == RunStatus.STARTED
    assert not JobRun.objects.filter(job_id="broken").exists()


def test_an_event_whose_owner_was_deleted_is_kept_without_owner(clean_queues, django_user_model):
    import json

    from rq import Queue

    from jobs.history import history_flush_all, history_key, history_pending

    conn = clean_queues
    gone = django_user_model.objects.create_user(username="gone", password="x-pass-123")
    gone_id = gone.pk
    gone.delete()
    job = Queue("default", connection=conn).enqueue("jobs.builtin.noop", meta={"jobs_name": "noop"})
    event = {"id": job.id, "e": "queued", "at": "2026-01-01T00:00:00+00:00", "owner": gone_id,
             "job": {"name": "noop", "queue": "default", "arguments": {}}}  # fmt: skip
    conn.rpush(history_key(), json.dumps(event))
    assert history_flush_all(connection=conn) == 1
    assert history_pending(connection=conn) == 0
    run = JobRun.objects.get(job_id=job.id)
    assert run.owner_id is None
    assert run.name == "noop"
