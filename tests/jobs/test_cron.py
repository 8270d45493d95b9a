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
    assert periodic_register() == ["runs_prune", "ledger_resolve", "noop"]
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
    assert [entry["name"] for entry in periodic_entries()] == ["runs_prune"]


def test_a_bad_periodic_declaration_names_its_app(settings):
    from django.core.exceptions import ImproperlyConfigured

    from jobs.periodic import periodic_entries

    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "tests.jobs.periodic_app.BadPeriodicConfig"]
    with pytest.raises(ImproperlyConfigured, match="App 'bad_periodic' declares a bad periodic task"):
        periodic_entries()
