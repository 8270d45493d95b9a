"""The README's API script (``<!-- api:script -->``) runs as written: a token, then only curl, on a live server."""

from __future__ import annotations

import json
import re
import subprocess

from chat.models import Room
from ledger.models import Account, Transfer
from ledger.services import account_create, transfer_create
from tests.conftest import ROOT

SCRIPT = re.compile(r"<!-- api:script -->\n```sh\n(?P<code>.*?)```", re.S)


def readme_script() -> str:
    (match,) = SCRIPT.finditer((ROOT / "README.md").read_text())
    return match["code"]


def test_the_readme_script_transfers_enqueues_posts_and_reads_each_back_with_curl(
    live_asgi, child_env, django_user_model
):
    admin = django_user_model.objects.create_superuser("admin", password="admin-pass-123")
    Room.objects.create(slug="lobby", title="Lobby")
    bank = account_create(name="bank", kind=Account.Kind.SYSTEM)
    checking = account_create(name="admin-checking", owner=admin)
    account_create(name="admin-savings", owner=admin)
    transfer_create(source=bank, target=checking, amount=100_000)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_script()],
        env={**child_env, "SB": live_asgi},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answers = [json.loads(line) for line in re.sub(r"\}\{", "}\n{", result.stdout).splitlines() if line.strip()]
    transfer, enqueued, message, transfers, runs, messages = answers
    assert transfer["status"] == "successful" and transfer["from_balance"] == 100_000 - 250
    assert transfers["items"][0]["id"] == transfer["id"] == Transfer.objects.latest("pk").pk
    assert runs["items"][0]["id"] == enqueued["id"] and runs["items"][0]["name"] == "countdown"
    assert message["text"] == "Hello from curl" and message["author"] == "admin"
    assert messages["items"][-1] == message
