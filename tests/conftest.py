"""Shared fixtures: real Redis, a live ASGI server, environment for child processes, users."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from switchboard.embedded_redis import RedisProcess, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def redis_client() -> redis.Redis:
    """A synchronous client on the suite's Redis."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    yield client
    client.close()


REDIS_FORMS = ["tcp", "unix"]


@pytest.fixture(scope="session")
def suite_redis_urls() -> dict[str, str]:
    """The suite's Redis as a TCP URL and as a unix-socket URL (a private socket one when REDIS_URL is external)."""
    unix_url = os.environ.get("SWITCHBOARD_TEST_REDIS_UNIX_URL")
    server = None
    if not unix_url:
        data_dir = Path(tempfile.mkdtemp(prefix="switchboard-redis-"))
        server = RedisProcess(data_dir=data_dir, unix_socket=data_dir / "redis.sock").start()
        unix_url = server.unix_url
    yield {"tcp": os.environ["REDIS_URL"], "unix": unix_url}
    if server is not None:
        server.stop()


@pytest.fixture(params=REDIS_FORMS)
def redis_form(request, settings, suite_redis_urls) -> str:
    """Runs the test once over TCP and once over the unix socket: REDIS_URL (and restartable_redis) use that form."""
    settings.REDIS_URL = suite_redis_urls[request.param]
    return request.param


@pytest.fixture
def restartable_redis(request, settings):
    """A redis-server of this test's own (so it may be restarted), set as REDIS_URL for the test.

    It listens on a port and a unix socket; ``url`` is the TCP one, or the ``redis_form`` one when the test uses it.
    """
    form = request.getfixturevalue("redis_form") if "redis_form" in request.fixturenames else "tcp"
    data_dir = Path(tempfile.mkdtemp(prefix="switchboard-redis-"))
    server = RedisProcess(data_dir=data_dir, unix_socket=data_dir / "redis.sock", tcp=True).with_form(form).start()
    settings.REDIS_URL = server.url
    yield server
    server.stop()


@pytest.fixture
def restartable_durable_redis(settings, tmp_path):
    """Like restartable_redis, with an append-only file as the site's Redis has: a restart keeps the data."""
    server = RedisProcess(data_dir=tmp_path / "redis", persist=True).start()
    settings.REDIS_URL = server.url
    yield server
    server.stop()


def database_url() -> str:
    """A DATABASE_URL naming the database the tests use now (the test database)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def scratch_database_url(tmp_path):
    """A new, empty database for a child process, of the kind the suite runs on (SQLite or PostgreSQL).

    PostgreSQL: a database of its own on the suite's server, dropped afterwards, so the standalone-app
    and host tests run on PostgreSQL in CI's second pass as well.
    """
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    import psycopg  # only on PostgreSQL runs

    db = connection.settings_dict
    name = f"scratch_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    params = {"host": db.get("HOST") or "127.0.0.1", "port": db.get("PORT") or 5432, "user": db.get("USER") or ""}
    if db.get("PASSWORD"):
        params["password"] = db["PASSWORD"]
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    auth = params["user"] + (f":{params['password']}" if "password" in params else "")
    yield f"postgres://{auth}@{params['host']}:{params['port']}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def child_env(transactional_db, settings) -> dict[str, str]:
    """Environment for a child process (manage.py, a worker, a script) that shares the test DB and Redis."""
    env = os.environ.copy()
    env.update(
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(ROOT),
    )
    return env


def run_manage(env: dict[str, str], *args: str, timeout: float = 60):
    """Run ``manage.py args`` in a child process; returns the CompletedProcess."""
    import subprocess

    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class LiveASGIServer:
    """uvicorn serving config.asgi in a thread of the test process (sees the test database)."""

    def __init__(self) -> None:
        import uvicorn

        from config.asgi import application

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(application, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def start(self) -> LiveASGIServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_asgi(transactional_db):
    """A live ASGI server (uvicorn) for this test; yields its base URL."""
    server = LiveASGIServer().start()
    yield server.url
    server.stop()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="alice", password="alice-pass-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="bob-pass-123")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(username="staff", password="staff-pass-123", is_staff=True)


@pytest.fixture
def admin_user_(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password="root-pass-123")


_suite_redis: redis.Redis | None = None


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Each test starts with no rate-limit history (only our own sb-rate:* keys are deleted)."""
    global _suite_redis
    from switchboard.limits import RATE_KEY_PREFIX

    if _suite_redis is None:
        _suite_redis = redis.Redis.from_url(os.environ["REDIS_URL"])
    keys = list(_suite_redis.scan_iter(match=f"{RATE_KEY_PREFIX}*", count=1000))
    if keys:
        _suite_redis.delete(*keys)


class RateClock:
    """The rate limits' clock (switchboard.limits.clock), still until the test moves it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def rate_clock(monkeypatch) -> RateClock:
    """Windows of the rate limits are measured on a clock the test moves, instead of sleeping through them."""
    from switchboard import limits

    clock = RateClock()
    monkeypatch.setattr(limits, "clock", clock)
    return clock
