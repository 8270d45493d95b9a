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


def test_enqueue_many_pipelines_jobs_and_history_then_workers_drain_them(run_worker, settings):
    from jobs.history import history_sync
    from jobs.services import jobs_enqueue_many

    settings.JOBS_DURABLE_ENQUEUE = False  # the Redis-only path: rows come from the history events
    ids = jobs_enqueue_many(name="noop", params_list=[{}] * 30, batch_size=8)
    assert len(set(ids)) == 30
    assert len(queue_get(name="high")) == 30
    run_worker("high")
    history_sync()
    runs = JobRun.objects.filter(job_id__in=ids)
    assert runs.count() == 30
    assert set(runs.values_list("status", flat=True)) == {RunStatus.FINISHED}
    assert set(runs.values_list("attempts", flat=True)) == {1}


def test_redis_down_durable_enqueues_one_or_many_are_recorded(dead_redis_queues):
    from jobs.services import jobs_enqueue_many

    run = job_enqueue(name="noop", params={})  # the row is committed; the reconciler pushes it later
    assert JobRun.objects.get(job_id=run.job_id).status == RunStatus.QUEUED
    ids = jobs_enqueue_many(name="noop", params_list=[{}] * 3)
    assert JobRun.objects.filter(job_id__in=ids, status=RunStatus.QUEUED).count() == 3


def test_the_old_path_raises_jobs_unavailable_and_records_nothing(dead_redis_queues, settings):
    from jobs.errors import JobsUnavailable
    from jobs.services import jobs_enqueue_many

    settings.JOBS_DURABLE_ENQUEUE = False
    with pytest.raises(JobsUnavailable, match="do not answer"):
        job_enqueue(name="noop", params={})
    with pytest.raises(JobsUnavailable, match="do not answer"):
        jobs_enqueue_many(name="noop", params_list=[{}])
    assert not JobRun.objects.exists()


def test_a_job_enqueued_in_a_rolled_back_transaction_never_exists(clean_queues):
    from django.db import transaction

    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack), transaction.atomic():
        run = job_enqueue(name="noop", params={})
        assert JobRun.objects.filter(job_id=run.job_id).exists()
        assert len(queue_get(name="high")) == 0  # pushed only on commit
        raise RolledBack
    assert not JobRun.objects.exists()
    assert len(queue_get(name="high")) == 0


def test_a_run_redis_lost_is_pushed_again_once_and_runs_once(run_worker, clean_queues):
    from jobs.history import history_sync
    from jobs.push import runs_reconcile

    lost = job_enqueue(name="noop", params={})
    kept = job_enqueue(name="noop", params={})
    queue = queue_get(name="high")
    assert set(queue.job_ids) == {lost.job_id, kept.job_id}
    # Redis loses the first job (a failover before replication, a restart without its append-only file).
    queue.remove(lost.job_id)
    queue.connection.delete(f"rq:job:{lost.job_id}")
    assert runs_reconcile(grace=3600) == []  # too recent: its push may still be under way
    assert runs_reconcile(grace=0) == [lost.job_id]  # the kept one is still in rq: left alone
    assert runs_reconcile(grace=0) == []  # and now both are
    assert sorted(queue.job_ids) == sorted([lost.job_id, kept.job_id])
    run_worker("high")
    history_sync()
    for run in (lost, kept):
        stored = JobRun.objects.get(job_id=run.job_id)
        assert (stored.status, stored.attempts) == (RunStatus.FINISHED, 1)
    assert runs_reconcile(grace=0) == []  # finished runs are not pushed again


def test_invalid_parameters_name_the_fields():
    from jobs.services import InvalidParameters

    with pytest.raises(InvalidParameters) as info:
        job_enqueue(name="countdown", params={"steps": 0, "extra": 1})
    assert "steps" in info.value.errors


def test_a_worker_starting_pushes_again_the_runs_rq_lost(run_worker, clean_queues):
    from datetime import timedelta

    from django.utils import timezone

    from jobs.history import history_sync

    lost = job_enqueue(name="noop", params={})
    queue = queue_get(name="high")
    queue.remove(lost.job_id)
    queue.connection.delete(f"rq:job:{lost.job_id}")
    # Redis lost it an hour ago (older than JOBS_RECONCILE_GRACE); the next worker to start finds it.
    JobRun.objects.filter(job_id=lost.job_id).update(enqueued_at=timezone.now() - timedelta(hours=1))
    run_worker("high")
    history_sync()
    stored = JobRun.objects.get(job_id=lost.job_id)
    assert (stored.status, stored.attempts) == (RunStatus.FINISHED, 1)
