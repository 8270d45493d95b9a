"""The boards app installed alone (no chat, jobs, ledger, admin) checks, migrates and serves its pages."""

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import django, json
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("check")
call_command("migrate", verbosity=0)
call_command("board_notify", "alone-board", json.dumps({"percent": 70, "message": "alone"}))
client = Client()
page = client.get("/boards/alone-board/")
watch = client.get("/boards/alone-board/watch")
print(page.status_code, watch.status_code, watch.json()["value"]["message"], "Chat" in page.content.decode())
"""


def test_boards_works_installed_alone(tmp_path, scratch_database_url, redis_client, settings):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tests.boards.settings_alone",
        "DATABASE_URL": scratch_database_url,
        "REDIS_URL": settings.REDIS_URL,
        "SWITCHBOARD_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["200", "200", "alone", "False"]
    redis_client.delete("boards:alone-board")
    redis_client.srem("boards:known", "alone-board")
