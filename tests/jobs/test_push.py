"""Durable bulk enqueue and the reconciler (jobs.push) against a real Redis that loses its data."""

from __future__ import annotations

import subprocess

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from jobs.history import history_sync
from jobs.models import JobRun, RunStatus
from jobs.push import runs_reconcile
from jobs.services import jobs_enqueue_many, queue_get
from switchboard.embedded_redis import RedisProcess
from tests.conftest import ROOT
from tests.jobs.conftest import QUEUES, worker_args

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def volatile_redis(settings, tmp_path):
    """A private Redis without persistence (a restart loses everything), the jobs' queues on it."""
    server = RedisProcess(data_dir=tmp_path / "redis", tcp=True, prefer="tcp").start()
    settings.RQ_QUEUES = {name: {"URL": server.url, "DEFAULT_TIMEOUT": 300} for name in QUEUES}
    settings.REDIS_URL = server.url
    yield server
    server.stop()


def drain(child_env, url: str) -> None:
    done = subprocess.run(worker_args("high"), env={**child_env, "REDIS_URL": url}, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_bulk_enqueue_in_a_rolled_back_transaction_enqueues_nothing(volatile_redis):
    class RolledBack(Exception):
        pass

    with pytest.raises(RolledBack), transaction.atomic():
        ids = jobs_enqueue_many(name="noop", params_list=[{}] * 25)
        assert JobRun.objects.filter(job_id__in=ids).count() == 25  # written in the caller's transaction
        assert len(queue_get(name="high")) == 0  # pushed only on commit
        raise RolledBack
    assert not JobRun.objects.exists()
    assert len(queue_get(name="high")) == 0
    assert runs_reconcile(grace=0) == []


def test_a_bulk_enqueue_writes_its_rows_in_one_insert_per_batch_and_pushes_on_commit(volatile_redis, child_env):
    with CaptureQueriesContext(connection) as queries:
        ids = jobs_enqueue_many(name="noop", params_list=[{}] * 30, batch_size=8)
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 4  # 30 rows in batches of 8
    assert len(set(ids)) == 30
    assert set(JobRun.objects.filter(job_id__in=ids).values_list("status", flat=True)) == {RunStatus.QUEUED}
    assert sorted(queue_get(name="high").job_ids) == sorted(ids)
    drain(child_env, volatile_redis.url)
    history_sync()
    runs = JobRun.objects.filter(job_id__in=ids)
    assert set(runs.values_list("status", "attempts")) == {(RunStatus.FINISHED, 1)}


def test_runs_a_restarted_redis_lost_are_pushed_again_and_every_run_runs_once(volatile_redis, child_env):
    lost = jobs_enqueue_many(name="noop", params_list=[{}] * 40)
    volatile_redis.restart()  # no append-only file: the 40 jobs are gone
    queue = queue_get(name="high")
    assert len(queue) == 0
    kept = jobs_enqueue_many(name="noop", params_list=[{}] * 10)  # pushed after the restart: rq has them
    assert runs_reconcile(grace=3600) == []  # too recent: their push may still be under way
    assert sorted(runs_reconcile(grace=0)) == sorted(lost)  # the kept ones are left alone
    assert runs_reconcile(grace=0) == []
    assert sorted(queue.job_ids) == sorted(kept + lost)
    drain(child_env, volatile_redis.url)
    history_sync()
    runs = JobRun.objects.filter(job_id__in=lost + kept)
    assert runs.count() == 50
    assert set(runs.values_list("status", "attempts")) == {(RunStatus.FINISHED, 1)}
    assert runs_reconcile(grace=0) == []  # finished runs are not pushed again


def test_a_flushed_redis_loses_nothing_committed_and_a_started_job_is_left_alone(volatile_redis, child_env):
    ids = jobs_enqueue_many(name="countdown", params_list=[{"steps": 1, "delay": 0}] * 5)
    queue = queue_get(name="default")
    started = queue.fetch_job(ids[0])
    queue.remove(started)
    started.set_status("started")  # a worker has it: rq knows the job, so it is not pushed again
    queue.connection.delete(*[f"rq:job:{job_id}" for job_id in ids[1:]], queue.key)
    assert sorted(runs_reconcile(grace=0)) == sorted(ids[1:])
    assert sorted(queue.job_ids) == sorted(ids[1:])


def test_redis_down_a_durable_bulk_enqueue_is_recorded_and_pushed_once_redis_answers(volatile_redis, child_env):
    volatile_redis.stop()
    ids = jobs_enqueue_many(name="noop", params_list=[{}] * 12)  # committed; the push after commit failed
    assert JobRun.objects.filter(job_id__in=ids, status=RunStatus.QUEUED).count() == 12
    volatile_redis.start()
    assert sorted(runs_reconcile(grace=0)) == sorted(ids)
    drain(child_env, volatile_redis.url)
    history_sync()
    assert set(JobRun.objects.values_list("status", "attempts")) == {(RunStatus.FINISHED, 1)}


def test_durable_rows_hold_every_column_as_given(volatile_redis, user):
    from django.utils import timezone

    from jobs.services import job_enqueue

    before = timezone.now()
    one = job_enqueue(name="countdown", params={"steps": 2, "delay": 0}, owner=user, delay=30)
    ids = jobs_enqueue_many(name="countdown", params_list=[{"steps": 3}, {"steps": 4}, {"steps": 3}], owner=user)
    row = JobRun.objects.get(job_id=one.job_id)
    assert (row.name, row.queue, row.status, row.owner_id) == ("countdown", "default", RunStatus.SCHEDULED, user.pk)
    assert row.arguments == {"steps": 2, "delay": 0}
    assert row.scheduled_for == one.scheduled_for and row.enqueued_at == one.enqueued_at
    assert row.timeout and row.created_at >= before and row.updated_at >= before
    assert (row.attempts, row.attempt_log, row.error, row.started_at) == (0, [], "", None)
    rows = {r.job_id: r for r in JobRun.objects.filter(job_id__in=ids)}
    assert [rows[job_id].arguments["steps"] for job_id in ids] == [3, 4, 3]
    assert {(r.status, r.owner_id, r.scheduled_for) for r in rows.values()} == {(RunStatus.QUEUED, user.pk, None)}
