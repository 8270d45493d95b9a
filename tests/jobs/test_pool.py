"""The default worker, a supervised pool of work processes (jobs.pool), run as real processes: stop, timeouts
(in Python and in C), a job that ends its process, SIGKILL from outside, recycling; each with the run's history
and rq's registries checked afterwards."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from rq import Retry
from rq.registry import FailedJobRegistry
from rq.worker import Worker

from jobs.models import RunStatus
from jobs.services import queue_get, run_stop
from jobs.worker import JobsJob
from tests.jobs.conftest import enqueued, stored, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

FAST = ["--heartbeat-grace", "1", "--monitoring-interval", "1", "--maintenance-interval", "1", "--kill-grace", "1"]


def pool_workers(queue_name: str = "default") -> dict[str, int]:
    """The pool's processes as rq sees them (`rq info`, the dashboard): worker name -> pid."""
    queue = queue_get(name=queue_name)
    return {w.name: w.pid for w in Worker.all(queue=queue)}


def enqueue_raw(func: str, *, timeout: int = 30, retry: Retry | None = None, **kwargs):
    """A plain rq job (not from the catalog) on the default queue; its run row comes from its history."""
    queue = queue_get(name="default")
    return queue.enqueue(func, kwargs=kwargs, job_timeout=timeout, retry=retry, failure_ttl=3600)


def assert_settled(job_id: str, status: str) -> None:
    """rq's view after the end of a job: its status, out of the started registry, nothing left queued."""
    queue = queue_get(name="default")
    job = JobsJob.fetch(job_id, connection=queue.connection)
    assert job.get_status() == status
    assert queue.started_job_registry.count == 0
    assert len(queue) == 0
    if status in ("failed", "stopped"):
        assert job_id in FailedJobRegistry(queue=queue)


def replaced(before: dict[str, int], gone: str, size: int = 2) -> dict[str, int]:
    """Wait until the pool has ``size`` registered processes again, ``gone`` no longer among them."""
    return wait_for(lambda: (now := pool_workers()) and len(now) == size and gone not in now and now, timeout=20)


def run_status(job_id: str) -> str | None:
    """The run's status, or None while its history has no row yet (a plain rq job gets one when it starts)."""
    from jobs.models import JobRun

    try:
        return stored(job_id).status
    except JobRun.DoesNotExist:
        return None


def busy_worker(job_id: str) -> tuple[str, int]:
    queue = queue_get(name="default")
    job = JobsJob.fetch(job_id, connection=queue.connection)
    return job.worker_name, pool_workers()[job.worker_name]


def test_pool_registers_each_process_and_runs_jobs_in_long_lived_processes(start_worker, user):
    start_worker("default", pool=2, extra=FAST)
    workers = wait_for(lambda: len(pool_workers()) == 2 and pool_workers())
    jobs = [enqueue_raw("tests.jobs.pool_jobs.whoami") for _ in range(20)]
    wait_for(lambda: all(j.get_status(refresh=True) == "finished" for j in jobs), timeout=30)
    pids = {j.return_value() for j in jobs}
    assert pids <= set(workers.values())  # no fork per job: the registered processes ran them
    assert pool_workers() == workers
    runs = [stored(j.id) for j in jobs]
    assert {r.status for r in runs} == {RunStatus.FINISHED} and {r.worker for r in runs} <= set(workers)


def test_stop_a_running_job_in_the_pool_kills_its_process_and_replaces_it(start_worker, user, redis_client):
    start_worker("default", pool=2, extra=FAST)
    wait_for(lambda: len(pool_workers()) == 2)
    run = enqueued(name="countdown", params={"steps": 200, "delay": 0.05}, owner=user)
    wait_for(lambda: stored(run.job_id).status == RunStatus.STARTED, timeout=20)
    before = pool_workers()
    name, _ = busy_worker(run.job_id)
    run_stop(run=run, user=user)  # rq's send_stop_job_command, to the process running it
    wait_for(lambda: stored(run.job_id).status == RunStatus.STOPPED, timeout=20)
    run = stored(run.job_id)
    assert run.error.startswith("Stopped on request") and run.attempts == 1
    final = json.loads(redis_client.hget(f"boards:job-{run.job_id}", "value"))
    assert final["status"] == "stopped" and final["percent"] < 100
    assert_settled(run.job_id, "stopped")
    replaced(before, name)
    after = enqueued(name="countdown", params={"steps": 1, "delay": 0}, owner=user)
    wait_for(lambda: stored(after.job_id).status == RunStatus.FINISHED, timeout=20)


def test_timeout_in_time_sleep_is_rqs_own_and_keeps_the_process(start_worker, user):
    start_worker("default", pool=2, extra=FAST)
    workers = wait_for(lambda: len(pool_workers()) == 2 and pool_workers())
    run = enqueued(name="slow", params={"seconds": 30}, owner=user)  # 2 s timeout
    wait_for(lambda: stored(run.job_id).status == RunStatus.FAILED, timeout=20)
    run = stored(run.job_id)
    assert "JobTimeoutException" in run.error and "2 seconds" in run.error and "did not stop" not in run.error
    assert_settled(run.job_id, "failed")
    assert pool_workers() == workers  # SIGALRM ended the job; nothing was killed


@pytest.mark.parametrize("func", ["tests.jobs.pool_jobs.blocked_in_c", "tests.jobs.pool_jobs.select_in_c"])
def test_timeout_of_a_job_blocked_in_c_kills_and_replaces_its_process(func, start_worker, user):
    start_worker("default", pool=2, extra=FAST)
    wait_for(lambda: len(pool_workers()) == 2)
    job = enqueue_raw(func, timeout=2, seconds=60)
    wait_for(lambda: job.get_status(refresh=True) == "started", timeout=20)
    started = time.monotonic()
    before = pool_workers()
    name, _ = busy_worker(job.id)
    wait_for(lambda: run_status(job.id) == RunStatus.FAILED, timeout=20)
    assert time.monotonic() - started < 10  # timeout 2 s + kill grace 1 s, not the 60 s sleep
    run = stored(job.id)
    assert "JobTimeoutException" in run.error and "did not stop" in run.error and run.attempts == 1
    assert_settled(job.id, "failed")
    replaced(before, name)


def test_job_calling_os_exit_is_retried_then_failed_and_its_process_replaced(start_worker, user):
    start_worker("default", pool=2, extra=FAST)
    before = wait_for(lambda: len(pool_workers()) == 2 and pool_workers())
    job = enqueue_raw("tests.jobs.pool_jobs.exit_now", retry=Retry(max=1))
    wait_for(lambda: run_status(job.id) == RunStatus.FAILED, timeout=20)
    run = stored(job.id)
    assert run.attempts == 2
    assert [a["status"] for a in run.attempt_log] == [RunStatus.RETRYING, RunStatus.FAILED]
    assert "Work-horse terminated unexpectedly" in run.error
    assert_settled(job.id, "failed")
    now = wait_for(lambda: len(pool_workers()) == 2 and pool_workers(), timeout=20)
    assert not set(now) & set(before)  # both processes ran one attempt each and were replaced


def test_a_process_that_dies_young_is_replaced_later_without_stalling_the_supervisor(clean_queues):
    """The pool's guard against spinning (a process that dies within a second of its start is replaced a second
    later) must not put the supervisor to sleep: another process lost in that second must have its job
    recorded at once, or rq's abandoned-job cleanup in the new process records it first, as abandoned (seen in
    CI: the os._exit test's second attempt)."""
    from jobs.pool import Child, WorkerPool

    pool = WorkerPool([queue_get(name="default")], connection=queue_get(name="default").connection, size=2)
    young = pool.children[0] = Child(0, f"{pool.name}-0.1", pid=2**22 + 1)
    old = pool.children[1] = Child(1, f"{pool.name}-1.1", pid=2**22 + 2, born=time.monotonic() - 5)
    started = time.monotonic()
    pool._exited(young, 1 << 8)  # exit status 1, as waitpid reports it
    assert time.monotonic() - started < 0.5
    assert pool.children == {1: old} and pool.respawn[0] >= started + 1
    pool._exited(old, 1 << 8)
    assert pool.children == {} and pool.respawn[1] <= time.monotonic()


def test_sigkill_of_a_work_process_mid_job_retries_the_job(start_worker, user, tmp_path):
    start_worker("default", pool=2, scheduler=True, extra=FAST)  # the retry waits out its backoff
    wait_for(lambda: len(pool_workers()) == 2)
    marker = tmp_path / "first-attempt-started"
    # the first attempt sleeps 60 s, so the kill lands mid-job however slow the machine; the retry returns at once
    job = enqueue_raw("tests.jobs.pool_jobs.slow_first_attempt", timeout=120, retry=Retry(max=1), marker=str(marker))
    wait_for(lambda: marker.exists() and job.get_status(refresh=True) == "started", timeout=20, interval=0.01)
    before = pool_workers()
    name, pid = busy_worker(job.id)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: run_status(job.id) == RunStatus.FINISHED, timeout=30)
    run = stored(job.id)
    assert run.attempts == 2 and run.result == json.dumps("later attempt")
    assert "Work-horse terminated unexpectedly" in run.attempt_log[0]["error"]
    assert "signal 9" in run.attempt_log[0]["error"]
    assert_settled(job.id, "finished")
    replaced(before, name)


def test_processes_are_recycled_after_max_jobs(start_worker, user):
    start_worker("default", pool=1, extra=[*FAST, "--max-jobs", "3"])
    wait_for(lambda: len(pool_workers()) == 1)
    jobs = [enqueue_raw("tests.jobs.pool_jobs.whoami") for _ in range(7)]
    wait_for(lambda: all(j.get_status(refresh=True) == "finished" for j in jobs), timeout=30)
    runs = [stored(j.id) for j in jobs]
    assert {r.status for r in runs} == {RunStatus.FINISHED}
    by_process: dict[int, int] = {}
    for job in jobs:
        by_process[job.return_value()] = by_process.get(job.return_value(), 0) + 1
    assert sorted(by_process.values()) == [1, 3, 3]
    assert len({r.worker for r in runs}) == 3
    wait_for(lambda: len(pool_workers()) == 1)  # the retired processes left rq's worker registry


def test_processes_are_recycled_over_max_memory(start_worker, user):
    start_worker("default", pool=1, extra=[*FAST, "--max-memory", "150"])
    wait_for(lambda: len(pool_workers()) == 1)
    small = enqueue_raw("tests.jobs.pool_jobs.hold_memory", megabytes=1)
    big = enqueue_raw("tests.jobs.pool_jobs.hold_memory", megabytes=200)
    after = enqueue_raw("tests.jobs.pool_jobs.hold_memory", megabytes=1)
    wait_for(lambda: after.get_status(refresh=True) == "finished", timeout=30)
    assert (small.return_value(), big.return_value(), after.return_value()) == (1, 2, 1)  # a fresh process
    assert stored(big.id).worker != stored(after.id).worker


def busy_pool(start_worker, user, *, steps: int):
    """A pool of two processes, one of them running a countdown of ``steps`` tenths of a second."""
    pool = start_worker("default", pool=2, extra=FAST)
    wait_for(lambda: len(pool_workers()) == 2)
    run = enqueued(name="countdown", params={"steps": steps, "delay": 0.1}, owner=user)
    wait_for(lambda: stored(run.job_id).status == RunStatus.STARTED, timeout=20)
    return pool, run


def test_sigterm_lets_the_running_job_finish_then_the_pool_leaves(start_worker, user):
    pool, run = busy_pool(start_worker, user, steps=20)
    pool.send_signal(signal.SIGTERM)
    assert pool.wait(timeout=30) == 0
    run = stored(run.job_id)
    assert run.status == RunStatus.FINISHED and run.attempts == 1
    assert_settled(run.job_id, "finished")
    assert pool_workers() == {}  # every work process deregistered itself


def test_sigkill_of_the_supervisor_lets_its_processes_finish_their_jobs_and_leave(start_worker, user):
    pool, run = busy_pool(start_worker, user, steps=20)
    os.kill(pool.pid, signal.SIGKILL)  # the supervisor alone: its processes are told (SIGTERM) by the kernel
    pool.wait(timeout=10)
    wait_for(lambda: pool_workers() == {}, timeout=30)
    run = stored(run.job_id)
    assert run.status == RunStatus.FINISHED and run.attempts == 1
    assert_settled(run.job_id, "finished")


DEQUEUE_THEN_DIE = """
import os, signal, sys, redis
connection = redis.Redis.from_url(os.environ["REDIS_URL"])
queue_key = sys.argv[1]
# rq's reliable dequeue (Queue.dequeue_any with one queue): BLMOVE into the queue's intermediate list
assert connection.blmove(queue_key, queue_key + ":intermediate", 10) is not None
os.kill(os.getpid(), signal.SIGKILL)  # killed before it marks the job started (a SIGKILLed pool, an OOM kill)
"""


def test_job_left_in_the_intermediate_queue_by_a_worker_killed_after_dequeue_runs_once(start_worker, user, child_env):
    """A worker SIGKILLed between rq's BLMOVE and its start transaction leaves the job in the queue's
    intermediate list, status queued; rq fails it after a minute at the earliest. It never started: the
    next maintenance pass must put it back on the queue, where a work process runs it (once)."""
    import subprocess
    import sys

    queue = queue_get(name="default")
    run = enqueued(name="countdown", params={"steps": 2, "delay": 0.05}, owner=user)
    wait_for(lambda: run.job_id in queue.get_job_ids(), timeout=10)
    killed = subprocess.run([sys.executable, "-c", DEQUEUE_THEN_DIE, queue.key], env=child_env, timeout=30)
    assert killed.returncode == -signal.SIGKILL
    assert queue.connection.lrange(queue.intermediate_queue_key, 0, -1) == [run.job_id.encode()]
    start_worker("default", pool=2, extra=FAST)
    wait_for(lambda: stored(run.job_id).status == RunStatus.FINISHED, timeout=20)
    assert stored(run.job_id).attempts == 1
    assert_settled(run.job_id, "finished")
    assert queue.connection.llen(queue.intermediate_queue_key) == 0


def test_ctrl_c_under_a_supervisor_is_one_warm_stop(start_worker, user):
    # A terminal's Ctrl-C reaches the whole process group (SIGINT) and run_site forwards its own SIGTERM: the
    # pool gets both at once. Stopped while they are sent, it sees them together, every time.
    pool, run = busy_pool(start_worker, user, steps=20)
    os.kill(pool.pid, signal.SIGSTOP)
    pool.send_signal(signal.SIGINT)
    pool.send_signal(signal.SIGTERM)
    os.kill(pool.pid, signal.SIGCONT)
    assert pool.wait(timeout=30) == 0  # the idle process left too, not only the busy one
    run = stored(run.job_id)
    assert run.status == RunStatus.FINISHED and run.attempts == 1  # warm: the running job ended first
    assert_settled(run.job_id, "finished")
    assert pool_workers() == {}


def test_a_second_stop_request_stops_the_running_job_now(start_worker, user):
    pool, run = busy_pool(start_worker, user, steps=600)
    pool.send_signal(signal.SIGINT)
    wait_for(lambda: len(pool_workers()) == 1, timeout=20)  # the idle process left; the busy one works on
    time.sleep(1.2)  # "again" means a later request: closer ones are the same Ctrl-C (STOP_AGAIN_AFTER)
    pool.send_signal(signal.SIGINT)
    assert pool.wait(timeout=30) == 0
    run = stored(run.job_id)
    # Killed as a dead worker's job is: on record, not lost, and retried by its policy (countdown retries).
    assert (run.status, run.attempts) == (RunStatus.RETRYING, 1)
    assert pool_workers() == {}


@pytest.mark.parametrize("kind", ["fork", "pool"])
def test_what_a_job_counts_is_written_though_its_process_ends_with_os_exit(kind, run_worker, user):
    """A forking worker's horse and a pool's work process end with os._exit (no exit handlers): the counts their
    jobs added up in the process (switchboard.metrics writes them within a second) are written first."""
    from switchboard.metrics import counter_series

    at = time.time()
    name = f"t.job-count.{kind}"
    for _ in range(3):
        enqueue_raw("tests.jobs.pool_jobs.count", name=name, at=at)
    run_worker("default", **({"simple": False} if kind == "fork" else {"pool": 1}))
    assert counter_series([name], minutes=1, at=at) == {name: [3]}
