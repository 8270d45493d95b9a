"""GET /health and `manage.py health`: the database, Redis, the hub, and the checks the apps declare."""

from __future__ import annotations

import json
import uuid

import pytest
from rq.cron import CronScheduler

from jobs.conf import setting as jobs_setting
from jobs.history import history_key
from jobs.services import queue_get
from jobs.worker import JobsWorker
from ledger.models import Account
from ledger.services import account_create, transfer_submit
from switchboard.health import Check, app_health_checks
from tests.conftest import run_manage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alive_jobs_processes(settings):
    """A registered worker on every worker queue and a cron scheduler (real rq registrations in Redis)."""
    queues = [queue_get(name=name) for name in jobs_setting("JOBS_WORKER_QUEUES")]
    connection = queues[0].connection
    worker = JobsWorker(queues, connection=connection, name=f"health-{uuid.uuid4().hex[:8]}")
    worker.register_birth()
    cron = CronScheduler(connection=connection, name=f"health-cron-{uuid.uuid4().hex[:8]}")
    cron.register_birth()
    yield
    worker.register_death()
    cron.register_death()
    connection.delete(cron.key)


@pytest.fixture
def no_history_backlog():
    connection = queue_get(name="default").connection
    connection.delete(history_key())
    yield connection
    connection.delete(history_key())


async def get_health(async_client):
    response = await async_client.get("/health")
    return response.status_code, json.loads(response.content)


def test_the_apps_declare_their_checks_on_their_app_config():
    names = [f"{check.__module__}.{check.__name__}" for check in app_health_checks()]
    assert names == [
        "jobs.health.check_workers",
        "jobs.health.check_scheduler",
        "jobs.health.check_history_flush_lag",
        "ledger.health.check_pending_age",
    ]


async def test_health_is_200_when_every_part_answers(async_client, alive_jobs_processes, no_history_backlog):
    status, data = await get_health(async_client)
    assert status == 200, data
    assert data["healthy"] is True
    checks = data["checks"]
    assert checks["database"]["ok"] and checks["redis"]["ok"]
    assert checks["hub"]["ok"] and checks["hub"]["connected"] is True
    assert {"channels", "waiters", "reconnects"} <= set(checks["hub"])
    assert checks["jobs_workers"]["ok"] and set(checks["jobs_workers"]["workers"]) == set(
        jobs_setting("JOBS_WORKER_QUEUES")
    )
    assert checks["jobs_scheduler"]["ok"] and checks["jobs_scheduler"]["alive"] >= 1
    assert checks["jobs_history_flush_lag"]["ok"] and checks["ledger_pending_age"]["ok"]


async def test_health_is_503_and_names_the_queue_without_a_worker(async_client, settings, no_history_backlog):
    settings.JOBS_WORKER_QUEUES = [f"nobody-{uuid.uuid4().hex[:6]}"]
    settings.RQ_QUEUES = {**settings.RQ_QUEUES, settings.JOBS_WORKER_QUEUES[0]: settings.RQ_QUEUES["default"]}
    status, data = await get_health(async_client)
    assert status == 503
    assert data["healthy"] is False
    assert data["checks"]["jobs_workers"] == {"ok": False, "workers": {settings.JOBS_WORKER_QUEUES[0]: 0}}


async def test_a_history_backlog_older_than_the_limit_is_unhealthy(async_client, alive_jobs_processes, settings):
    connection = queue_get(name="default").connection
    connection.delete(history_key())
    settings.JOBS_HEALTH_MAX_FLUSH_LAG = 30
    connection.rpush(history_key(), json.dumps({"id": "x", "e": "queued", "at": "2020-01-01T00:00:00+00:00"}))
    try:
        status, data = await get_health(async_client)
    finally:
        connection.delete(history_key())
    assert status == 503
    lag = data["checks"]["jobs_history_flush_lag"]
    assert lag["ok"] is False and lag["pending"] == 1 and lag["lag_seconds"] > 30


async def test_a_transfer_pending_too_long_is_unhealthy(
    async_client, alive_jobs_processes, no_history_backlog, settings
):
    from asgiref.sync import sync_to_async

    def make_pending():
        bank = account_create(name=f"bank-{uuid.uuid4().hex[:6]}", kind=Account.Kind.SYSTEM)
        alice = account_create(name=f"alice-{uuid.uuid4().hex[:6]}")
        transfer_submit(source=bank, target=alice, amount=5)

    await sync_to_async(make_pending)()
    settings.LEDGER_HEALTH_PENDING_MAX_AGE = 300
    status, _ = await get_health(async_client)
    assert status == 200  # pending, but young
    settings.LEDGER_HEALTH_PENDING_MAX_AGE = 0
    status, data = await get_health(async_client)
    assert status == 503
    assert data["checks"]["ledger_pending_age"]["older_than_max"] == 1


async def test_redis_down_is_503_and_says_why(async_client, settings, tmp_path):
    settings.REDIS_URL = f"unix://{tmp_path}/nothing-listens.sock?db=0"
    settings.RQ_QUEUES = {name: {"URL": settings.REDIS_URL} for name in settings.RQ_QUEUES}
    status, data = await get_health(async_client)
    assert status == 503
    assert data["checks"]["database"]["ok"] is True
    assert data["checks"]["redis"]["ok"] is False and "error" in data["checks"]["redis"]
    assert data["checks"]["hub"]["ok"] is False and data["checks"]["hub"]["connected"] is False
    assert data["checks"]["jobs_workers"]["ok"] is False  # a check that raises is reported, not a crash


def test_a_check_that_raises_is_reported_under_its_name():
    from switchboard.health import _run

    def check_explodes() -> Check:
        raise RuntimeError("boom")

    result = _run(check_explodes)
    assert (result.ok, result.detail) == (False, {"error": "RuntimeError: boom"})


def test_the_health_command_prints_the_report_and_exits_1_when_unhealthy(child_env):
    result = run_manage(child_env, "health")
    data = json.loads(result.stdout)
    assert data["checks"]["redis"]["ok"] is True and data["checks"]["hub"]["connected"] is True
    assert data["healthy"] is False  # no worker runs for this test
    assert result.returncode == 1
    assert "Unhealthy: jobs_workers" in result.stderr


def test_the_health_command_exits_0_when_healthy(child_env, alive_jobs_processes, no_history_backlog):
    result = run_manage(child_env, "health")
    data = json.loads(result.stdout)
    assert data["healthy"] is True, data
    assert result.returncode == 0


def test_the_health_url_is_mounted_by_the_site_and_needs_no_login(client):
    response = client.get("/health")
    assert response.status_code in (200, 503)
    assert response["Content-Type"] == "application/json"
