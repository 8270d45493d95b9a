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
    settings.JOBS_LEDGER_RESOLVER = "nowhere.resolve"
    assert periodic_register() == ["noop"]
    cron._job_data_registry.clear()
    settings.JOBS_PERIODIC = [{"job": "noop", "interval": 5, "cron": "* * * * *"}]
    with pytest.raises(ImproperlyConfigured, match="exactly one"):
        periodic_register()
    cron._job_data_registry.clear()
