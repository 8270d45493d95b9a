"""Enqueue services against real Redis, run by real worker processes."""

import json

import pytest

from jobs.models import JobRun, RunStatus
from jobs.services import job_enqueue, queue_get
from tests.jobs.conftest import enqueued

pytestmark = pytest.mark.django_db(transaction=True)


def test_countdown_succeeds_with_result_progress_and_history(run_worker, user, redis_client):
    run = enqueued(name="countdown", params={"steps": 3, "delay": 0.01}, owner=user)
    assert run.status == RunStatus.QUEUED
    run_worker("default")
    run.refresh_from_db()
    assert run.status == RunStatus.FINISHED
    assert json.loads(run.result) == {"steps": 3}
    assert run.attempts == 1
    assert run.started_at and run.ended_at and run.ended_at >= run.started_at
    job = queue_get(name="default").fetch_job(run.job_id)
    assert job.meta["progress"]["percent"] == 100
    board = redis_client.hgetall(f"boards:job-{run.job_id}")
    assert json.loads(board[b"value"])["status"] == "finished"


def test_enqueue_many_pipelines_jobs_and_history_then_workers_drain_them(run_worker):
    from jobs.history import history_sync
    from jobs.services import jobs_enqueue_many

    ids = jobs_enqueue_many(name="noop", params_list=[{}] * 30, batch_size=8)
    assert len(set(ids)) == 30
    assert len(queue_get(name="high")) == 30
    run_worker("high")
    history_sync()
    runs = JobRun.objects.filter(job_id__in=ids)
    assert runs.count() == 30
    assert set(runs.values_list("status", flat=True)) == {RunStatus.FINISHED}
    assert set(runs.values_list("attempts", flat=True)) == {1}


def test_redis_down_enqueue_raises_jobs_unavailable_and_records_nothing(dead_redis_queues):
    from jobs.errors import JobsUnavailable
    from jobs.services import jobs_enqueue_many

    with pytest.raises(JobsUnavailable, match="do not answer"):
        job_enqueue(name="noop", params={})
    with pytest.raises(JobsUnavailable):
        jobs_enqueue_many(name="noop", params_list=[{}])
    assert not JobRun.objects.exists()


def test_invalid_parameters_name_the_fields():
    from jobs.services import InvalidParameters

    with pytest.raises(InvalidParameters) as info:
        job_enqueue(name="countdown", params={"steps": 0, "extra": 1})
    assert "steps" in info.value.errors
