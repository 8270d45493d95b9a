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


def _row(job_id: str) -> dict:
    from django.forms.models import model_to_dict

    return {k: v for k, v in model_to_dict(JobRun.objects.get(job_id=job_id)).items() if k != "id"}


def test_a_batch_applied_again_changes_nothing(clean_queues):
    """A flusher killed after its commit and before its LTRIM leaves its batch in Redis: it is applied
    again by the next flush. Attempts are keyed by rq's execution id, so nothing is counted twice."""
    from django.utils import timezone
    from rq import Queue

    from jobs.history import history_flush_all, history_key, run_record_failed, run_record_finished, run_record_started

    conn = clean_queues
    job = Queue("default", connection=conn).enqueue("jobs.builtin.noop", meta={"jobs_name": "noop"})
    job.started_at = timezone.now()
    run_record_started(job=job, worker_name="w1", execution_id="x1")
    run_record_failed(job=job, exc_string="Traceback...\nRuntimeError: first", retrying=True, execution_id="x1")
    run_record_started(job=job, worker_name="w2", execution_id="x2")
    job._result, job.ended_at = 42, timezone.now()
    run_record_finished(job=job, execution_id="x2")
    events = conn.lrange(history_key(), 0, -1)
    assert history_flush_all(connection=conn) == 4
    once = _row(job.id)
    assert (once["status"], once["attempts"], once["result"], once["worker"]) == (RunStatus.FINISHED, 2, "42", "w2")
    assert [(a["n"], a["x"], a["status"], a["error"]) for a in once["attempt_log"]] == [
        (1, "x1", RunStatus.RETRYING, "RuntimeError: first (it will be retried)"),
        (2, "x2", RunStatus.FINISHED, ""),
    ]
    for again in (events, events[:2], events[1:2]):  # the whole batch, or any part of it, applied again
        conn.rpush(history_key(), *again)
        assert history_flush_all(connection=conn) == len(again)
        assert _row(job.id) == once


def test_an_abandoned_attempt_recorded_twice_counts_once(clean_queues):
    from django.utils import timezone
    from rq import Queue

    from jobs.history import history_flush_all, run_record_abandoned, run_record_started

    conn = clean_queues
    job = Queue("default", connection=conn).enqueue("jobs.builtin.noop", meta={"jobs_name": "noop"})
    job.started_at = timezone.now()
    run_record_started(job=job, worker_name="w1", execution_id="x1")
    run_record_abandoned(job=job)
    run_record_abandoned(job=job)  # e.g. two processes cleaned the same started registry
    history_flush_all(connection=conn)
    run = JobRun.objects.get(job_id=job.id)
    assert (run.status, run.attempts, len(run.attempt_log)) == (RunStatus.FAILED, 1, 1)
    assert "AbandonedJobError" in run.attempt_log[0]["error"]
