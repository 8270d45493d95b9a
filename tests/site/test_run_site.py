"""manage.py run_site supervises its children: a worker that dies is started again, the site stays up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from switchboard.embedded_redis import RedisProcess, free_port
from tests.conftest import ROOT


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def worker_pids(pid: int) -> list[int]:
    """run_site's jobs_worker children."""
    pids = []
    for child in children(pid):
        try:
            if b"jobs_worker" in Path(f"/proc/{child}/cmdline").read_bytes():
                pids.append(child)
        except FileNotFoundError:
            pass
    return pids


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
            return response.status == 200
    except OSError:
        return False


def wait_for(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)
    return value


@pytest.fixture
def private_redis():
    server = RedisProcess().start()
    yield server
    server.stop()


def test_a_sigkilled_worker_is_restarted_while_the_web_server_keeps_answering(child_env, private_redis, tmp_path):
    port = free_port()
    env = {**child_env, "REDIS_URL": private_redis.url, "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    log = open(tmp_path / "run_site.log", "w+")
    site = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "run_site", "--no-setup", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/"), timeout=60)
        workers = wait_for(lambda: len(pids := worker_pids(site.pid)) == 3 and pids, timeout=30)
        os.kill(workers[0], signal.SIGKILL)
        wait_for(lambda: workers[0] not in (pids := worker_pids(site.pid)) and len(pids) == 3, timeout=30)
        assert answers(f"http://127.0.0.1:{port}/")
        assert site.poll() is None
    finally:
        os.killpg(site.pid, signal.SIGTERM)
        site.wait(timeout=30)
        log.seek(0)
        output = log.read()
        log.close()
    assert "exited unexpectedly with code -9; restarting it in 1 s" in output, output[-3000:]
    assert "starting again" in output
