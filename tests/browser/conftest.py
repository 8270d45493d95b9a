"""Browser-test fixtures: the real site in child processes, Debian's Chromium through Playwright.

- ``live_site`` (session): uvicorn serving ``config.asgi`` and an rq worker with the scheduler, as
  ``make run`` starts them, both on the test database (DATABASE_URL) and the suite's Redis.
- ``browser`` (this package): headless Chromium from ``/usr/bin/chromium`` (never Playwright's download).
- ``page``: an anonymous page; ``signed_in(user)``: a page of a fresh context signed in through the
  real login form. Every page records console errors, page errors and HTTP errors in ``page.problems``.
- ``screenshot(page, name)`` saves ``docs/screenshots/<name>.png``.

The tests stay synchronous. Playwright's sync API marks its event loop as running in the main
thread for as long as it is started, so (1) the browser lives only while this package's tests run
(a session-wide one would break the pytest-asyncio tests and ORM calls of the packages after it), and
(2) these tests allow the ORM beside it (DJANGO_ALLOW_ASYNC_UNSAFE, set per test and never passed to
the live site, whose async views keep Django's safety check).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from switchboard.embedded_redis import free_port
from tests.conftest import ROOT, database_url

CHROMIUM = os.environ.get("SWITCHBOARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
DEFAULT_TIMEOUT_MS = 10_000


class LiveSite:
    """The real site as child processes: uvicorn (config.asgi) and ``rqworker high default low --with-scheduler``."""

    def __init__(self, *, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.worker_name = f"browser-tests-{uuid.uuid4().hex[:12]}"
        self.processes: dict[str, subprocess.Popen] = {}

    def commands(self) -> dict[str, list[str]]:
        python = sys.executable
        return {
            "web": [python, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                    "--port", str(self.port), "--log-level", "warning", "--timeout-graceful-shutdown", "3"],
            "worker": [python, str(ROOT / "manage.py"), "rqworker", "high", "default", "low",
                       "--with-scheduler", "--name", self.worker_name],
        }  # fmt: skip

    def start(self, timeout: float = 30.0) -> LiveSite:
        """Start both processes and return once the site answers and the worker has registered."""
        for name, command in self.commands().items():
            with open(self.log_dir / f"{name}.log", "wb") as log:  # the child keeps its own copy
                self.processes[name] = subprocess.Popen(
                    command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
        deadline = time.monotonic() + timeout
        self._wait(deadline, "web", self._web_ready)
        self._wait(deadline, "worker", self._worker_ready)
        return self

    def _wait(self, deadline: float, name: str, ready: Callable[[], bool]) -> None:
        while not ready():
            self.check_alive()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the live site's {name} did not become ready:\n{self.log_tail(name)}")
            time.sleep(0.1)

    def _web_ready(self) -> bool:
        try:
            return httpx.get(self.url + "/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _worker_ready(self) -> bool:
        client = redis.Redis.from_url(self.env["REDIS_URL"])
        try:
            return bool(client.exists(f"rq:worker:{self.worker_name}"))
        finally:
            client.close()

    def check_alive(self) -> None:
        """Raise with the process's log when the web server or the worker has exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                code = process.returncode
                raise RuntimeError(f"the live site's {name} exited with code {code}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM both processes (the worker finishes its job), then SIGKILL what is left."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def live_site(django_db_setup, tmp_path_factory) -> Iterator[LiveSite]:
    """The real site (uvicorn + rq worker with scheduler) on the test database and the suite's Redis."""
    env = os.environ.copy()
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(ROOT),
        RQ_LOG_LEVEL="WARNING",
        LOG_LEVEL="WARNING",
    )
    site = LiveSite(env=env, log_dir=tmp_path_factory.mktemp("live-site")).start()
    yield site
    site.stop()


@pytest.fixture(scope="package")
def browser(live_site) -> Iterator[Browser]:
    """Headless Chromium (Debian's package), shared by the browser tests (started after the live site)."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does it from .ci/apt-packages).")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch) -> None:
    """Let this test (and its database fixtures) use the ORM while Playwright's loop is marked running."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")


@dataclass
class Problems:
    """What went wrong on a page: console errors, uncaught exceptions, HTTP responses >= 400."""

    console: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    http: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.console or self.exceptions or self.http)


def _favicon(url: str) -> bool:
    # Chromium asks for /favicon.ico by itself; the site has none.
    return url.endswith("/favicon.ico")


def _console_error(message) -> bool:
    return message.type == "error" and not _favicon(message.location.get("url", ""))


def _http_error(response) -> bool:
    return response.status >= 400 and not _favicon(response.url)


def watch(page: Page) -> Page:
    """Record the page's problems in ``page.problems`` (assert ``not page.problems`` at the end)."""
    problems = Problems()
    page.problems = problems
    page.on("console", lambda msg: problems.console.append(msg.text) if _console_error(msg) else None)
    page.on("pageerror", lambda exc: problems.exceptions.append(str(exc)))
    page.on("response", lambda r: problems.http.append(f"{r.status} {r.url}") if _http_error(r) else None)
    return page


class Contexts:
    """Opens browser contexts on the live site and closes them all at the end of the test."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.opened: list[BrowserContext] = []

    def new_page(self) -> Page:
        """A page in a fresh, anonymous context."""
        context = self.browser.new_context(base_url=self.base_url, viewport=VIEWPORT)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        self.opened.append(context)
        return watch(context.new_page())

    def signed_in(self, user, password: str | None = None) -> Page:
        """A page in a fresh context, signed in as ``user`` through the real login form."""
        page = self.new_page()
        page.goto("/accounts/login/")
        page.fill("input[name=username]", user.get_username())
        page.fill("input[name=password]", password or password_of(user))
        with page.expect_navigation():
            page.click("form.stacked button[type=submit]")
        if page.url.rstrip("/").endswith("/accounts/login"):
            raise AssertionError(f"signing in as {user.get_username()!r} failed: {page.inner_text('main')}")
        return page

    def close(self) -> None:
        for context in self.opened:
            context.close()


def password_of(user) -> str:
    """The password the shared user fixtures give ``user`` (``<username>-pass-123``)."""
    return f"{user.get_username()}-pass-123"


@pytest.fixture
def contexts(browser, live_site, transactional_db) -> Iterator[Contexts]:
    """Browser contexts on the live site; closed before the test database is flushed."""
    opened = Contexts(browser, live_site.url)
    yield opened
    opened.close()
    live_site.check_alive()


@pytest.fixture
def page(contexts) -> Page:
    """An anonymous page on the live site."""
    return contexts.new_page()


@pytest.fixture
def signed_in(contexts) -> Callable[..., Page]:
    """``signed_in(user, password=None)``: a page signed in as ``user`` in a context of its own."""
    return contexts.signed_in


def save_screenshot(page: Page, name: str) -> Path:
    """Save the page's viewport as ``docs/screenshots/<name>.png`` (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """``screenshot(page, "scenario")`` saves ``docs/screenshots/scenario.png``."""
    return save_screenshot
