"""Ledger stands alone: installed with only the shared package, it migrates, checks, moves money and renders."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import django
django.setup()
from django.core.management import call_command
from django.contrib.auth import get_user_model
from django.test import Client
call_command("migrate", verbosity=0)
call_command("check", fail_level="WARNING")
from ledger.models import Account
from ledger.services import account_create, transfer_create
user = get_user_model().objects.create_user("solo", password="x")
bank = account_create(name="bank", kind=Account.Kind.SYSTEM)
mine = account_create(name="solo-main", owner=user)
transfer_create(source=bank, target=mine, amount=42)
client = Client()
client.force_login(user)
page = client.get("/ledger/accounts/solo-main/")
assert page.status_code == 200 and b'data-balance="42"' in page.content, page.status_code
assert client.get("/ledger/").status_code == 200
print("alone ok")
"""


def test_ledger_runs_with_only_the_shared_package_installed(scratch_database_url, settings):
    env = {
        "REDIS_URL": settings.REDIS_URL,
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tests.ledger.settings_alone",
        "DATABASE_URL": scratch_database_url,
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "alone ok" in result.stdout
