"""Enqueue services against real Redis, run by real worker processes."""

import json

import pytest

from jobs.models import RunStatus
from jobs.services import job_enqueue, queue_get

pytestmark = pytest.mark.django_db(transaction=True)


def test_countdown_succeeds_with_result_progress_and_history(run_worker, user, redis_client):
    run = job_enqueue(name="countdown", params={"steps": 3, "delay": 0.01}, owner=user)
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
