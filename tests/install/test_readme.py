"""The README's "Add an app to your site" works as written, for each app alone.

The wheel is installed (with the app extras and uvicorn) into one fresh virtualenv; for each app, a brand-new
``django-admin startproject mysite`` gets the README's marked snippets (``<!-- host:<app|all>:<part> -->``
before a fenced block) applied literally: settings and urls appended, asgi.py replaced. The host then passes
``check --fail-level WARNING``, migrates, runs under uvicorn, and its app's main flow runs over HTTP: sign
in, the app's pages, one live update (a long-poll that a later write wakes, or a job's progress seen while
it runs) and a static file; then its JSON API under /api/ (the app's operations alone in the OpenAPI
document, the offline docs page, a read with an API token from ``manage.py api_token create``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.embedded_redis import RedisProcess, free_port
from tests.conftest import ROOT
from tests.install.conftest import run

SNIPPET = re.compile(r"<!-- host:(?P<app>\w+):(?P<part>\w+) -->\n```\w*\n(?P<code>.*?)```", re.S)
APPS = ("chat", "boards", "jobs", "ledger")
PASSWORD = "readme-pass-123"


def readme_snippets() -> dict[tuple[str, str], str]:
    """(app or "all", part) -> the code of the README's marked block."""
    found: dict[tuple[str, str], str] = {}
    for match in SNIPPET.finditer((ROOT / "README.md").read_text()):
        key = (match["app"], match["part"])
        assert key not in found, f"two README blocks are marked host:{key[0]}:{key[1]}"
        found[key] = match["code"]
    return found


def test_the_readme_marks_every_snippet_the_hosts_need_and_an_install_line_per_app():
    snippets = readme_snippets()
    assert {("all", "settings"), ("all", "urls"), ("all", "asgi")} <= snippets.keys()
    for app in APPS:
        assert {(app, "settings"), (app, "urls")} <= snippets.keys()
    assert 'pip install "django-switchboard[boards]" uvicorn' in (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def venv_python(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv holding the wheel with the four app extras and uvicorn (shared by the four hosts)."""
    venv = tmp_path_factory.mktemp("readme") / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile",
         f"{wheel}[chat,boards,jobs,ledger]", "uvicorn==0.54.0"])  # fmt: skip
    return python


@pytest.fixture(scope="module")
def host_redis():
    server = RedisProcess().start()
    yield server
    server.stop()


class Host:
    """A startproject site with one app added from the README, served by uvicorn."""

    def __init__(self, app: str, root: Path, python: Path, redis_url: str) -> None:
        self.app, self.root, self.python = app, root / "mysite", python
        self.env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTHON"))}
        self.env.update(
            REDIS_URL=redis_url,
            DJANGO_SUPERUSER_USERNAME="admin",
            DJANGO_SUPERUSER_EMAIL="admin@example.com",
            DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen | None = None

    def create(self) -> None:
        """startproject, then the README's snippets: settings and urls appended, asgi.py replaced."""
        self.root.mkdir(parents=True)
        run([str(self.python), "-m", "django", "startproject", "mysite", str(self.root)], env=self.env)
        snippets = readme_snippets()
        package = self.root / "mysite"
        for part in ("settings", "urls"):
            path = package / f"{part}.py"
            path.write_text(f"{path.read_text()}\n{snippets['all', part]}\n{snippets[self.app, part]}")
        (package / "asgi.py").write_text(snippets["all", "asgi"])

    def manage(self, *args: str) -> str:
        return run([str(self.python), "manage.py", *args], cwd=self.root, env=self.env).stdout

    def serve(self) -> None:
        argv = [str(self.python), "-m", "uvicorn", "mysite.asgi:application", "--port", str(self.port),
                "--lifespan", "off", "--log-level", "warning"]  # fmt: skip
        self.server = subprocess.Popen(argv, cwd=self.root, env=self.env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/accounts/login/").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"uvicorn did not serve the host: {self.stop()}")
            time.sleep(0.1)

    def stop(self) -> str:
        if self.server is None:
            return ""
        if self.server.poll() is None:
            self.server.terminate()
        _, errors = self.server.communicate(timeout=15)
        return errors


def signed_in(url: str) -> httpx.Client:
    """A client signed in as the host's superuser through the login page (session and CSRF cookies)."""
    client = httpx.Client(base_url=url, timeout=20)
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and "Log in" in page.text
    answer = client.post("/accounts/login/", data={
        "username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": client.cookies["csrftoken"], "next": "/",
    })  # fmt: skip
    assert answer.status_code == 302, answer.text
    return client


def post_json(client: httpx.Client, path: str, body: Any) -> httpx.Response:
    return client.post(path, json=body, headers={"X-CSRFToken": client.cookies["csrftoken"]})


def waiting(func, *args, **kwargs) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``func`` (a long-poll) in a thread; the dict gets its "response" and how long it "took"."""
    outcome: dict[str, Any] = {}

    def call() -> None:
        started = time.monotonic()
        outcome["response"] = func(*args, **kwargs)
        outcome["took"] = time.monotonic() - started

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(1.0)  # the long-poll is parked before the write that wakes it
    return thread, outcome


def chat_flow(client: httpx.Client, url: str) -> None:
    """Create a room from the index form, park a long-poll, post a message: the poll wakes with it."""
    assert "admin" in client.get("/chat/").text
    created = client.post("/chat/", data={"slug": "readme-room", "title": "README room",
                                          "csrfmiddlewaretoken": client.cookies["csrftoken"]})  # fmt: skip
    assert created.status_code == 302 and created.headers["location"] == "/chat/readme-room/"
    assert client.get("/chat/readme-room/").status_code == 200
    thread, outcome = waiting(httpx.get, f"{url}/chat/readme-room/poll?after=0&timeout=15", timeout=30)
    posted = post_json(client, "/chat/readme-room/messages", {"text": "Hello from the README"})
    assert posted.status_code == 201, posted.text
    thread.join(timeout=30)
    heard = outcome["response"].json()
    assert [message["text"] for message in heard["messages"]] == ["Hello from the README"]
    assert outcome["took"] > 0.9, "the poll answered at once, before the post: not a live update"
    assert "Hello from the README" in client.get("/chat/readme-room/").text
    assert client.get("/static/chat/room.js").status_code == 200


def boards_flow(client: httpx.Client, url: str) -> None:
    """Notify a board over HTTP, park a watch on its version, notify again: the watch wakes with the value."""
    first = post_json(client, "/boards/readme-board/notify", {"percent": 10, "message": "started"})
    assert first.status_code == 200, first.text
    version = first.json()["ts"]
    assert "started" in client.get("/boards/readme-board/").text
    thread, outcome = waiting(httpx.get, f"{url}/boards/readme-board/watch?ts={version}&timeout=15", timeout=30)
    assert post_json(client, "/boards/readme-board/notify", {"percent": 100, "message": "done"}).status_code == 200
    thread.join(timeout=30)
    watched = outcome["response"].json()
    assert watched["value"] == {"percent": 100, "message": "done"} and watched["ts"] == version + 1
    assert outcome["took"] > 0.9, "the watch answered at once, before the notify: not a live update"
    assert client.get("/boards/").status_code == 200
    assert client.get("/static/boards/board.js").status_code == 200


def jobs_flow(client: httpx.Client, host: Host) -> None:
    """Enqueue a countdown over HTTP, run a worker: its run's JSON shows the progress live, then finished."""
    assert 'id="job-countdown"' in client.get("/jobs/").text
    enqueued = post_json(client, "/jobs/countdown/enqueue", {"params": {"steps": 4, "delay": 0.4}})
    assert enqueued.status_code == 201, enqueued.text
    run_url = f"/jobs/runs/{enqueued.json()['id']}.json"
    worker = subprocess.Popen([str(host.python), "manage.py", "jobs_worker", "default", "--burst"], cwd=host.root,
                              env=host.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while (data := client.get(run_url).json())["status"] != "finished":
        if data.get("progress"):
            seen.append(data["progress"]["percent"])
        assert time.monotonic() < deadline and data["status"] not in ("failed", "stopped"), data
        time.sleep(0.1)
    _, errors = worker.communicate(timeout=30)
    assert worker.returncode == 0, errors
    assert any(0 < percent < 100 for percent in seen), f"no progress seen while it ran: {seen}"
    assert data["result"] == '{"steps": 4}' and data["board_url"] is None  # jobs alone: progress in job.meta
    assert client.get(f"/jobs/runs/{data['id']}/").status_code == 200
    assert client.get("/static/jobs/run.js").status_code == 200


def ledger_flow(client: httpx.Client, host: Host) -> None:
    """Accounts and a deposit from the commands, a transfer and an overdraft over HTTP, the account page.

    The ledger has no live endpoint: its flow has no live update.
    """
    host.manage("ledger_account_create", "bank", "--kind", "system")
    host.manage("ledger_account_create", "admin-main", "--owner", "admin")
    host.manage("ledger_account_create", "other")
    host.manage("ledger_transfer", "bank", "admin-main", "1000")
    body = {"from": "admin-main", "to": "other", "amount": 250, "idempotency_key": "readme-1"}
    sent = post_json(client, "/ledger/transfers", body)
    assert sent.status_code == 201 and sent.json()["status"] == "successful", sent.text
    overdraft = post_json(client, "/ledger/transfers", {**body, "amount": 5000, "idempotency_key": "readme-2"})
    assert overdraft.status_code == 409 and overdraft.json()["error"] == "insufficient_funds"
    assert 'data-balance="750"' in client.get("/ledger/accounts/admin-main/").text
    assert client.get("/ledger/").status_code == 200
    assert client.get("/static/switchboard/site.css").status_code == 200


API_READS = {
    "chat": ("/api/chat/rooms", lambda data: [room["slug"] for room in data["items"]] == ["readme-room"]),
    "boards": ("/api/boards/readme-board", lambda data: data["value"] == {"percent": 100, "message": "done"}),
    "jobs": ("/api/jobs/runs?job=countdown", lambda data: data["items"][0]["status"] == "finished"),
    "ledger": ("/api/ledger/accounts/admin-main", lambda data: data["balance"] == 750),
}


def api_flow(app: str, host: Host) -> None:
    """The host's /api/: only this app's operations, the docs page with its local assets, a token's read."""
    paths = httpx.get(f"{host.url}/api/openapi.json").json()["paths"]
    assert paths and all(path.startswith(f"/api/{app}/") for path in paths), sorted(paths)
    docs = httpx.get(f"{host.url}/api/docs")
    assert docs.status_code == 200 and "/static/ninja/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text
    assert httpx.get(f"{host.url}/static/ninja/swagger-ui-bundle.js").status_code == 200
    secret = host.manage("api_token", "create", "admin").strip()
    url, expected = API_READS[app]
    answer = httpx.get(f"{host.url}{url}", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200 and expected(answer.json()), answer.text
    refused = httpx.get(f"{host.url}{url}", headers={"Authorization": "Bearer sbt_not-a-token"})
    assert refused.status_code == 401 and refused.json()["error"] == "login_required"


@pytest.mark.parametrize("app", APPS)
def test_a_startproject_site_adds_the_app_from_the_readme_alone_and_it_works_over_http(
    app, tmp_path, venv_python, host_redis
):
    host = Host(app, tmp_path, venv_python, host_redis.url)
    host.create()
    assert "System check identified no issues" in host.manage("check", "--fail-level", "WARNING")
    host.manage("migrate", "--noinput")
    host.manage("createsuperuser", "--noinput")
    host.serve()
    try:
        client = signed_in(host.url)
        installed = [name for name in APPS if name != app]
        nav = client.get(f"/{app}/").text
        assert f'href="/{app}/"' in nav and not any(f'href="/{other}/"' in nav for other in installed)
        if app == "chat":
            chat_flow(client, host.url)
        elif app == "boards":
            boards_flow(client, host.url)
        elif app == "jobs":
            jobs_flow(client, host)
        else:
            ledger_flow(client, host)
        api_flow(app, host)
    finally:
        errors = host.stop()
    assert "Traceback" not in errors, errors
