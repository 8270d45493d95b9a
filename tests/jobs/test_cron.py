"""Periodic jobs: `rqcron jobs.cron` registers JOBS_PERIODIC and its jobs fire and run."""

import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import JobRun, RunStatus
from tests.conftest import ROOT
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_rqcron_fires_the_configured_prune_job_which_prunes_old_runs(child_env, run_worker, redis_client):
    old = JobRun.objects.create(job_id="old1", name="countdown", queue="default", status=RunStatus.FINISHED)
    JobRun.objects.filter(pk=old.pk).update(ended_at=timezone.now() - timedelta(days=90))
    recent = JobRun.objects.create(
        job_id="new1", name="countdown", queue="default", status=RunStatus.FINISHED, ended_at=timezone.now()
    )
    cron = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "rqcron", "jobs.cron"],
        env=child_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # interval jobs fire as soon as the scheduler starts
        wait_for(lambda: redis_client.llen("rq:queue:system") >= 1, timeout=30)
    finally:
        cron.terminate()
        output = cron.communicate(timeout=10)[0]
    assert "Starting cron scheduler with" in output
    run_worker("system")
    run = JobRun.objects.get(name="runs_prune")
    assert run.status == RunStatus.FINISHED
    assert run.result == "1"
    assert not JobRun.objects.filter(pk=old.pk).exists()
    assert JobRun.objects.filter(pk=recent.pk).exists()


def test_periodic_entries_skip_unavailable_jobs_and_reject_bad_ones(settings):
    from django.core.exceptions import ImproperlyConfigured
    from rq import cron

    from jobs.cron import periodic_register

    settings.JOBS_PERIODIC = [{"job": "noop", "interval": 5}, {"job": "missing", "interval": 5}]
    assert periodic_register() == ["ops_publish", "runs_prune", "runs_reconcile", "ledger_resolve", "noop"]
    cron._job_data_registry.clear()
    settings.JOBS_PERIODIC = [{"job": "noop", "interval": 5, "cron": "* * * * *"}]
    with pytest.raises(ImproperlyConfigured, match="exactly one"):
        periodic_register()
    cron._job_data_registry.clear()


def test_the_apps_declare_their_periodic_tasks_and_jobs_runs_those_of_the_installed_ones(settings):
    """The ledger's resolve is declared by the ledger app (LedgerConfig.periodic_tasks), not known by jobs."""
    from jobs.periodic import periodic_entries

    entries = {entry["name"]: entry for entry in periodic_entries()}
    assert entries["ledger_resolve"]["func"] == "ledger.interface.transfers_resolve"
    assert entries["runs_prune"]["queue"] == entries["ledger_resolve"]["queue"] == "system"
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "ledger"]
    assert [entry["name"] for entry in periodic_entries()] == ["ops_publish", "runs_prune", "runs_reconcile"]


def test_a_bad_periodic_declaration_names_its_app(settings):
    from django.core.exceptions import ImproperlyConfigured

    from jobs.periodic import periodic_entries

    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "tests.jobs.periodic_app.BadPeriodicConfig"]
    with pytest.raises(ImproperlyConfigured, match="App 'bad_periodic' declares a bad periodic task"):
        periodic_entries()


def test_jobs_cron_waits_out_a_redis_restart_and_goes_on_enqueueing(child_env, tmp_path):
    """rq's own rqcron exits on the first Redis error (seen in the Sentinel soak's failover)."""
    import time

    import redis

    from switchboard.embedded_redis import RedisProcess

    server = RedisProcess(data_dir=tmp_path / "redis", tcp=True, prefer="tcp").start()
    client = redis.Redis.from_url(server.url)
    cron = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "jobs_cron"],
        env={**child_env, "REDIS_URL": server.url}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: client.llen("rq:queue:system") >= 1, timeout=30)  # interval tasks fire at start
        server.kill()  # no append-only file: Redis comes back empty
        time.sleep(12)  # down longer than the scheduler's sleep (ops_publish every 10 s): its next tick fails
        server.start()
        client = redis.Redis.from_url(server.url)
        # the site's ops_publish runs every 10 s: enqueued again on the new Redis by the same scheduler
        wait_for(lambda: client.llen("rq:queue:system") >= 1, timeout=40)
        assert cron.poll() is None
    finally:
        cron.terminate()
        output = cron.communicate(timeout=10)[0]
        server.stop()
    assert "Redis does not answer" in output, output[-2000:]
