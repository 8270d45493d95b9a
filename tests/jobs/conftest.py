"""Fixtures for the jobs tests: clean queues, and real worker processes (burst or long-running)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis
from django.conf import settings

from tests.conftest import ROOT
from tests.redis_plugin import redis_flush_allowed

QUEUES = ("high", "default", "low", "system")


def empty_queues(client: redis.Redis) -> None:
    """Forget every job of our queues: flush when allowed, else delete only rq's keys for our queues."""
    if redis_flush_allowed():
        client.flushdb()
        return
    patterns = ["jobs:history*", *(p for name in QUEUES for p in (f"rq:queue:{name}*", f"rq:*:{name}"))]
    keys = [key for pattern in patterns for key in client.scan_iter(pattern)]
    if keys:
        client.delete(*keys)


@pytest.fixture
def clean_queues(redis_client):
    empty_queues(redis_client)
    yield redis_client
    empty_queues(redis_client)


def worker_args(
    *queues: str, burst: bool = True, simple: bool = True, pool: int | None = None, scheduler: bool = False, extra=()
) -> list:
    """jobs_worker's argv: a pool of ``pool`` work processes, else one simple or one forking worker."""
    args = [sys.executable, str(ROOT / "manage.py"), "jobs_worker", *queues, "-v", "0"]
    if burst:
        args.append("--burst")
    if pool:
        args += ["--processes", str(pool)]
    else:
        args.append("--simple" if simple else "--fork")
    if scheduler:
        args.append("--with-scheduler")
    return [*args, *extra]


@pytest.fixture
def run_worker(child_env, clean_queues):
    """Run a burst worker on ``queues`` until the queues are empty; returns the CompletedProcess."""

    def run(*queues: str, timeout: float = 60, **kwargs):
        done = subprocess.run(
            worker_args(*(queues or ("default",)), **kwargs),
            env=child_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    return run


@pytest.fixture
def start_worker(child_env, clean_queues):
    """Start long-running workers (own process group each); all are killed at teardown."""
    started: list[subprocess.Popen] = []

    def start(
        *queues: str, simple: bool = False, pool: int | None = None, scheduler: bool = False, extra=()
    ) -> subprocess.Popen:
        proc = subprocess.Popen(
            worker_args(
                *(queues or ("default",)), burst=False, simple=simple, pool=pool, scheduler=scheduler, extra=extra
            ),
            env=child_env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        kill_tree(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


# A job's execution dies 2 s after its worker's last heartbeat; the recovering worker looks every second.
FAST_DEATH = ["--heartbeat-grace", "1", "--monitoring-interval", "1", "--maintenance-interval", "1"]


def paused_worker(env: dict[str, str], steps_file, pause_at: str, *, burst: bool = False, options=FAST_DEATH):
    """A simple worker on "default" that freezes itself at step ``pause_at`` of recording a job
    (tests/jobs/paused_worker.py: "all", "none" or a step number; with the code as it is, step 0 is just
    before the start transaction, 1 just after it: the job is started in rq, its function not yet called)."""
    args = [sys.executable, "-m", "tests.jobs.paused_worker", str(steps_file), pause_at, "default", "--simple"]
    return subprocess.Popen(
        [*args, "-v", "0", *options, *(["--burst"] if burst else [])],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def frozen(proc: subprocess.Popen) -> bool:
    """The process stopped itself (SIGSTOP): state T in /proc."""
    try:
        with open(f"/proc/{proc.pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def descendants(pid: int) -> list[int]:
    """Process ids of every descendant of ``pid`` (a forking worker's work horse has its own group)."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            children.append(int(entry))
    return [c for child in children for c in (child, *descendants(child))]


def kill_tree(pid: int, sig: int) -> None:
    for target in [pid, *descendants(pid)]:
        try:
            os.kill(target, sig)
        except ProcessLookupError:
            pass


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def stored(job_id: str):
    """The run's row, after applying the history events still waiting in Redis."""
    from jobs.history import history_sync
    from jobs.models import JobRun

    history_sync()
    return JobRun.objects.get(job_id=job_id)


def enqueued(**kwargs):
    """job_enqueue(), then the run as stored in the database."""
    from jobs.services import job_enqueue

    return stored(job_enqueue(**kwargs).job_id)


@pytest.fixture
def dead_redis_queues(settings):
    """RQ_QUEUES (and REDIS_URL) pointing at a port where no Redis answers."""
    from switchboard.embedded_redis import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.RQ_QUEUES = {name: {"URL": url, "DEFAULT_TIMEOUT": 300} for name in QUEUES}
    settings.REDIS_URL = url
    return url


__all__ = ["settings"]
