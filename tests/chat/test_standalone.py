"""chat installed alone (with the shared package, without sibling apps) checks, migrates and works."""

from tests.conftest import ROOT, run_manage

SCRIPT = """
from django.contrib.auth import get_user_model
from django.test import Client
from chat.services import room_create
from django.apps import apps
assert not any(apps.is_installed(a) for a in ("boards", "jobs", "ledger", "django.contrib.admin"))
room = room_create(slug="alone")
user = get_user_model().objects.create_user("solo", password="solo-pass-123")
client = Client()
client.force_login(user)
assert client.post("/chat/alone/messages", {"text": "hi"}, content_type="application/json").status_code == 201
page = client.get("/chat/alone/").content.decode()
assert "hi" in page and "Chat" in page
assert client.get("/chat/").status_code == 200
print("standalone ok")
"""


def test_chat_checks_migrates_and_serves_without_sibling_apps(tmp_path, scratch_database_url, settings):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tests.chat.settings_alone",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": scratch_database_url,
        "REDIS_URL": settings.REDIS_URL,
        "SWITCHBOARD_DATA_DIR": str(tmp_path),
    }
    for args in (["check", "--fail-level", "WARNING"], ["migrate", "-v", "0"], ["shell", "-c", SCRIPT]):
        result = run_manage(env, *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert "standalone ok" in result.stdout
