"""Each app stands alone: a minimal host site (tests/hosts/, no config/) installs it, checks, migrates,
renders its pages and runs its main flow (tests/hosts/flows.py), all in the host's own process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from switchboard.embedded_redis import RedisProcess
from tests.conftest import ROOT

DJANGO_LABELS = {"admin", "auth", "contenttypes", "sessions", "messages", "staticfiles"}
HOSTS = {
    # app: (the Switchboard apps its host installs, the pages to render)
    "chat": ({"switchboard", "chat"}, ["/chat/"]),
    "boards": ({"switchboard", "boards"}, ["/boards/"]),
    "jobs": ({"switchboard", "boards", "jobs", "django_rq"}, ["/jobs/", "/boards/"]),
    "ledger": ({"switchboard", "ledger"}, ["/ledger/"]),
}


@pytest.fixture(scope="module")
def host_redis():
    """A redis-server of the host sites' own: their burst workers never meet the suite's queued jobs."""
    server = RedisProcess().start()
    yield server
    server.stop()


def host_env(app: str, tmp_path, redis_url: str) -> dict[str, str]:
    """Environment of a child process running the host site of ``app`` on a fresh SQLite file."""
    env = os.environ.copy()
    for name in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE=f"tests.hosts.settings_{app}",
        SWITCHBOARD_HOST_DB=str(tmp_path / f"host-{app}.sqlite3"),
        PYTHONPATH=str(ROOT),
        REDIS_URL=redis_url,
    )
    return env


def only(data: dict, *keys: str) -> dict:
    """``data`` restricted to ``keys``."""
    return {key: data[key] for key in keys}


def chat_flow_worked(flow: dict) -> None:
    """The message posted through the API is stored as seq 1, published on Redis and shown (escaped)."""
    assert flow["post_status"] == 201
    assert flow["stored"] == [[1, "host-user", "Hello <b>host</b>"]]
    for envelope in (flow["posted"], flow["published"]):
        assert only(envelope, "room", "seq", "author", "text") == {
            "room": "host-room",
            "seq": 1,
            "author": "host-user",
            "text": "Hello <b>host</b>",
        }
    assert flow["page_status"] == 200
    assert flow["page_shows_message"] and not flow["page_has_raw_markup"]


def boards_flow_worked(flow: dict) -> None:
    """A watch from version 0 answers the last notified value at once."""
    first, last = flow["versions"]
    assert last == first + 1
    assert flow["watch_status"] == 200
    assert flow["watch"] == {
        "value": {"percent": 100, "message": "done"},
        "ts": last,
        "next_update_url": f"/boards/host-board/watch?ts={last}",
    }
    assert flow["page_status"] == 200 and flow["page_shows_value"]


def jobs_flow_worked(flow: dict) -> None:
    """Both jobs ran to finished in the host's burst workers; the countdown's board reached 100 %."""
    assert flow["enqueue_status"] == 201
    countdown, noop = flow["runs"]["countdown"], flow["runs"]["noop"]
    assert only(countdown, "status", "queue", "result", "attempts", "owner") == {
        "status": "finished",
        "queue": "default",
        "result": '{"steps": 3}',
        "attempts": 1,
        "owner": "host-user",
    }
    assert only(noop, "status", "queue", "attempts") == {"status": "finished", "queue": "high", "attempts": 1}
    assert flow["progress_board"]["percent"] == 100


def ledger_flow_worked(flow: dict) -> None:
    """The deposit and the transfer move the balances; the overdraft is rejected and moves nothing."""
    assert flow["deposit"] == "successful" and flow["after_deposit"] == 1000
    assert flow["transfer"] == [201, "successful"]
    assert flow["overdraft"] == [409, "insufficient_funds"]
    assert flow["balances"] == {"host-bank": -1000, "host-main": 750, "host-other": 250}
    assert flow["page_shows_balance"] and flow["audit_ok"]


FLOW_CHECKS = {
    "chat": chat_flow_worked,
    "boards": boards_flow_worked,
    "jobs": jobs_flow_worked,
    "ledger": ledger_flow_worked,
}


@pytest.mark.parametrize("app", HOSTS)
def test_app_checks_migrates_renders_and_runs_its_main_flow_in_a_host_site_of_its_own(app, tmp_path, host_redis):
    expected_apps, pages = HOSTS[app]
    smoke = subprocess.run(
        [sys.executable, "-m", "tests.hosts.smoke", *pages, "--flow", app],
        env=host_env(app, tmp_path, host_redis.url), cwd=ROOT, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    result = json.loads(smoke.stdout.strip().splitlines()[-1])
    assert result["check"] == "System check identified no issues (0 silenced)."
    assert set(result["apps"]) == DJANGO_LABELS | expected_apps
    assert (tmp_path / f"host-{app}.sqlite3").stat().st_size > 0, "migrate ran on the host's own database"
    for path in pages:
        assert result["pages"][path]["status"] == 200
        assert "host-user" in result["pages"][path]["text"], "the page extends switchboard/base.html"
    FLOW_CHECKS[app](result["flow"])
