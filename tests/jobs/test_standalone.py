"""jobs installed alone (the shared package and django-rq, no sibling app) checks, migrates and works."""

from tests.conftest import ROOT, run_manage

SCRIPT = """
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import Client
from jobs.history import history_sync
from jobs.models import JobRun
from jobs.services import queue_get
from jobs.worker import JobsSimpleWorker
assert not any(apps.is_installed(a) for a in ("boards", "chat", "ledger", "django.contrib.admin"))
user = get_user_model().objects.create_user("solo", password="solo-pass-123")
client = Client()
client.force_login(user)
queue = queue_get(name="default")
queue.empty()
response = client.post("/jobs/countdown/enqueue", {"params": {"steps": 2, "delay": 0}}, content_type="application/json")
assert response.status_code == 201, response.content
JobsSimpleWorker([queue], connection=queue.connection).work(burst=True)
history_sync()
run = JobRun.objects.get(job_id=response.json()["id"])
assert run.status == "finished", run.status
assert "ledger_resolve" not in client.get("/jobs/").content.decode()
print("standalone ok")
"""


def test_jobs_checks_migrates_and_runs_without_sibling_apps(tmp_path, scratch_database_url, settings):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tests.jobs.settings_alone",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": scratch_database_url,
        "REDIS_URL": settings.REDIS_URL,
        "SWITCHBOARD_DATA_DIR": str(tmp_path),
    }
    for args in (["check", "--fail-level", "WARNING"], ["migrate", "-v", "0"], ["shell", "-c", SCRIPT]):
        result = run_manage(env, *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "standalone ok" in result.stdout
