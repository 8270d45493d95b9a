"""The pool's supervisor acting on a real process: a stop for a job the process no longer runs never kills it
(it is frozen, its slot read again, and let go); a stop for the job it runs kills it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jobs.pool import Child, WorkerPool
from jobs.pool_child import Running
from jobs.services import queue_get
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def process_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]  # R, S, T (stopped), Z...


def stop_message(worker_name: str, job_id: str) -> dict:
    return {"channel": f"rq:pubsub:{worker_name}".encode(),
            "data": json.dumps({"command": "stop-job", "job_id": job_id}).encode()}  # fmt: skip


def test_stop_for_another_job_leaves_the_process_running_and_for_its_job_kills_it(clean_queues):
    queue = queue_get(name="default")
    pool = WorkerPool([queue], connection=queue.connection, size=1, name="sup-test")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        pool.children[0] = Child(0, "sup-test-0.1", sleeper.pid)
        # the process has moved on to job-b by the time the stop for job-a arrives
        pool.slots[0].write(Running("job-b", "x1", "default", 0.0))
        pool._command(stop_message("sup-test-0.1", "job-a"))
        assert wait_for(lambda: process_state(sleeper.pid) in ("S", "R"), timeout=5)  # frozen, then let go
        assert 0 in pool.children and pool.children[0].kill is None
        pool.stopping = 1  # do not start a replacement in this test process
        pool._command(stop_message("sup-test-0.1", "job-b"))
        assert 0 not in pool.children
        assert not os.path.exists(f"/proc/{sleeper.pid}")  # killed and reaped
    finally:
        if sleeper.poll() is None and os.path.exists(f"/proc/{sleeper.pid}"):
            sleeper.kill()
