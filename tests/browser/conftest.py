"""Browser-test fixtures: the real site in child processes, Debian's Chromium through Playwright.

- ``live_site`` (session): the real site as ``make run`` starts it (``manage.py run_site``: uvicorn
  serving ``config.asgi``, rq workers with the scheduler, and the embedded Redis on its unix socket in a data
  directory of its own, as for a new user) on the test database.
- ``browser`` (this package): headless Chromium from ``/usr/bin/chromium`` (never Playwright's download).
- ``page``: an anonymous page; ``signed_in(user)``: a page of a fresh context signed in through the
  real login form. Every page records console errors, page errors and HTTP errors in ``page.problems``
  (``assert not page.problems``, or ``not page.problems.besides(409)`` where a 409 is the point).
- ``screenshot(page, name)`` saves ``docs/screenshots/<name>.png``.

The tests stay synchronous. Playwright's sync API marks its event loop as running in the main
thread for as long as it is started, so (1) the browser lives only while this package's tests run
(a session-wide one would break the pytest-asyncio tests and ORM calls of the packages after it), and
(2) these tests allow the ORM beside it (DJANGO_ALLOW_ASYNC_UNSAFE, set per test and never passed to
the live site, whose async views keep Django's safety check).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from rq import Worker

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
# Every scenario saves a screenshot under data/screenshots/ (ignored by git); with
# UPDATE_SCREENSHOTS=1 they go to docs/screenshots/, the ones the README shows.
SCREENSHOTS = ROOT / ("docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else "data") / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
DEFAULT_TIMEOUT_MS = 10_000


class LiveSite:
    """The real site as ``make run`` starts it: ``manage.py run_site`` (uvicorn serving config.asgi, rq workers
    with the scheduler) in a process group of its own, on the environment's database and Redis.

    Going through run_site keeps the tests on the README's process topology as it evolves.
    """

    def __init__(self, *, env: dict[str, str], log_dir: Path, redis_url: str) -> None:
        self.env = env
        self.redis_url = redis_url
        self.log_path = log_dir / "run_site.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [sys.executable, str(ROOT / "manage.py"), "run_site", "--no-setup", "--host", "127.0.0.1",
                "--port", str(self.port)]  # fmt: skip

    def start(self, timeout: float = 30.0) -> LiveSite:
        """Start the site; return once it answers and a worker of its own listens on every rq queue."""
        with open(self.log_path, "wb") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        self._wait(deadline, "web server", self._web_ready)
        self._wait(deadline, "rq workers", self._workers_ready)
        return self

    def _wait(self, deadline: float, what: str, ready: Callable[[], bool]) -> None:
        while not ready():
            self.check_alive()
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the live site's {what} did not become ready:\n{self.log_tail()}")
            time.sleep(0.1)

    def _web_ready(self) -> bool:
        try:
            return httpx.get(self.url + "/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def workers(self) -> list[Worker]:
        """The rq workers this site started (children of its run_site process)."""
        client = redis.Redis.from_url(self.redis_url)
        try:
            client.ping()
        except redis.ConnectionError:
            return []  # run_site is still starting its embedded Redis
        try:
            # a pool's work processes are the site's grandchildren (run_site -> jobs_worker -> work process)
            return [worker for worker in Worker.all(connection=client)
                    if self.process.pid in (_parent_pid(worker.pid), _parent_pid(_parent_pid(worker.pid)))]  # fmt: skip
        finally:
            client.close()

    def _workers_ready(self) -> bool:
        served = {name for worker in self.workers() for name in worker.queue_names()}
        return set(settings.RQ_QUEUES) <= served

    def check_alive(self) -> None:
        """Raise with the site's log when run_site has exited (it stops when any of its processes does)."""
        if self.process.poll() is not None:
            code = self.process.returncode
            raise RuntimeError(f"the live site exited with code {code}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM run_site (it stops its processes in order), then SIGKILL its process group if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _parent_pid(pid: int | None) -> int | None:
    """The parent of process ``pid`` (Linux /proc), or None when it is gone."""
    if pid is None:
        return None
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


@pytest.fixture(scope="package")
def live_site(django_db_setup, tmp_path_factory) -> Iterator[LiveSite]:
    """The real site as ``make run`` runs it (run_site: the embedded Redis on its unix socket, uvicorn, rq
    workers, cron), on the test database (the tests create its users) and a data directory of its own.

    No REDIS_URL: run_site starts the embedded Redis in that directory, as it does for a new user, so the
    browser tests run on the shipped configuration, and its workers and cron never touch other tests' queues.
    Package-scoped: it stops when the browser tests end.
    """
    data_dir = tmp_path_factory.mktemp("live-site-data")
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "REDIS_URL")}
    env.update(
        DATABASE_URL=database_url(),
        SWITCHBOARD_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(ROOT),
        RQ_LOG_LEVEL="WARNING",
        LOG_LEVEL="WARNING",
    )
    site = LiveSite(
        env=env, log_dir=tmp_path_factory.mktemp("live-site"), redis_url=f"unix://{data_dir}/redis.sock?db=0"
    )
    site.start()
    yield site
    site.stop()


@pytest.fixture(autouse=True)
def _site_redis(live_site, settings) -> None:
    """In browser tests the test process talks to the live site's embedded Redis (board_notify, enqueues)."""
    url = live_site.redis_url
    settings.REDIS_URL = url
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": url}}
    settings.RQ_QUEUES = {name: {**queue, "URL": url} for name, queue in settings.RQ_QUEUES.items()}


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

    def besides(self, *statuses: int) -> Problems:
        """These problems less the HTTP errors of ``statuses`` a scenario expects (a rejected form's 409)."""
        return Problems(
            console=[line for line in self.console if _logged_status(line) not in statuses],
            exceptions=list(self.exceptions),
            http=[line for line in self.http if int(line.split(" ", 1)[0]) not in statuses],
        )


def _logged_status(console_line: str) -> int | None:
    # Chromium logs "Failed to load resource: the server responded with a status of 409 (Conflict)".
    found = re.search(r"responded with a status of (\d+)", console_line)
    return int(found.group(1)) if found else None


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
    """Save the page's viewport as ``<SCREENSHOTS>/<name>.png`` (docs/ with UPDATE_SCREENSHOTS=1)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """``screenshot(page, "scenario")`` saves ``scenario.png`` under SCREENSHOTS."""
    return save_screenshot
