"""A worker SIGKILLed at each step of recording a job: its history events travel in rq's own transactions, so
whatever the step, after recovery the job is recorded exactly once (not lost, not doubled) as rq ended it.

The steps are found, not assumed: a probe worker (tests/jobs/paused_worker.py) freezes before and after every
Redis round trip that records a job (a history event or an rq status) and is continued step by step. Then one
worker per step freezes at exactly that step and is SIGKILLed there; a recovering worker puts back what never
started and fails what was abandoned, and every run is checked against rq.
"""

from __future__ import annotations

import signal
import time

import pytest

from jobs.models import JobRun, RunStatus
from jobs.services import queue_get
from tests.jobs.conftest import enqueued, frozen, kill_tree, paused_worker, stored, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# Victims clean no registry once they wait for jobs: a victim must not recover another victim's job.
NO_MAINTENANCE = ["--heartbeat-grace", "1", "--monitoring-interval", "1", "--maintenance-interval", "3600"]
RQ_TO_RUN = {"finished": RunStatus.FINISHED, "failed": RunStatus.FAILED}


def steps_of(path) -> list[str]:
    """The steps a paused worker went through, without their numbers."""
    return [line.split(" ", 1)[1] for line in path.read_text().splitlines()] if path.exists() else []


def probe_steps(env: dict[str, str], tmp_path) -> list[str]:
    """Every step of recording one job, from a burst worker frozen and continued at each of them."""
    run = enqueued(name="slow", params={"seconds": 0})
    steps_file = tmp_path / "probe.steps"
    probe = paused_worker(env, steps_file, "all", burst=True)
    try:
        seen = 0
        while True:  # frozen at a step it has not been continued from yet, or done
            wait_for(lambda: probe.poll() is not None or (frozen(probe) and len(steps_of(steps_file)) > seen), 60)
            if probe.poll() is not None:
                break
            seen = len(steps_of(steps_file))
            probe.send_signal(signal.SIGCONT)
        assert probe.wait(timeout=60) == 0, probe.stderr.read().decode()[-3000:]
    finally:
        kill_tree(probe.pid, signal.SIGKILL)
        probe.wait(timeout=10)
        probe.stderr.close()
    assert stored(run.job_id).status == RunStatus.FINISHED
    return steps_of(steps_file)


def assert_recorded_once(job_id: str) -> None:
    """One run, as rq ended the job, with one attempt, ended (a killed worker's job has no retries)."""
    job = queue_get(name="default").fetch_job(job_id)
    runs = list(JobRun.objects.filter(job_id=job_id))
    assert len(runs) == 1
    run = runs[0]
    assert run.status == RQ_TO_RUN[job.get_status()], (run.status, job.get_status(), run.attempt_log)
    assert run.attempts == 1 and len(run.attempt_log) == 1, run.attempt_log
    assert run.attempt_log[0]["ended_at"] is not None and run.attempt_log[0]["status"] == run.status


def consistent(job_ids: list[str], *, timeout: float) -> None:
    """Wait (up to ``timeout`` s) until every run has the status rq gave its job; the checks then say what differs."""
    queue = queue_get(name="default")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [stored(job_id) for job_id in job_ids]
        if all(run.status == RQ_TO_RUN[queue.fetch_job(run.job_id).get_status()] for run in runs):
            return
        time.sleep(0.2)


def waiting_on_the_queue(client) -> int:
    """Redis clients blocked in a dequeue (rq's reliable dequeue: BLMOVE)."""
    return sum(1 for entry in client.client_list() if entry.get("cmd") == "blmove")


def settled(job_ids: list[str]) -> bool:
    """rq is done with every job: ended, in no registry of running jobs, on no queue or intermediate list."""
    queue = queue_get(name="default")
    statuses = {queue.fetch_job(job_id).get_status() for job_id in job_ids}
    return (
        statuses <= set(RQ_TO_RUN)
        and queue.started_job_registry.count == 0
        and len(queue) == 0
        and queue.connection.llen(queue.intermediate_queue_key) == 0
    )


def test_a_worker_killed_at_each_step_of_the_history_write_leaves_each_job_recorded_once(child_env, clean_queues,
                                                                                          tmp_path):  # fmt: skip
    steps = probe_steps(child_env, tmp_path)
    # the start transaction and the success transaction at least, each with a step before and after
    assert len(steps) >= 4 and all(step.startswith(("before ", "after ")) for step in steps), steps

    victims = [
        paused_worker(child_env, tmp_path / f"{k}.steps", str(k), options=NO_MAINTENANCE) for k in range(len(steps))
    ]
    recovery = None
    try:
        # Every victim waits on the queue (its start-up cleaning done), then each takes one of the jobs.
        wait_for(lambda: waiting_on_the_queue(clean_queues) >= len(victims), timeout=120)
        job_ids = [enqueued(name="slow", params={"seconds": 0}).job_id for _ in steps]
        wait_for(lambda: all(frozen(victim) for victim in victims), timeout=120)
        for k, victim in enumerate(victims):
            assert steps_of(tmp_path / f"{k}.steps") == steps[: k + 1]  # frozen at exactly step k
            kill_tree(victim.pid, signal.SIGKILL)
        for victim in victims:
            assert victim.wait(timeout=10) == -signal.SIGKILL
        recovery = paused_worker(child_env, tmp_path / "recovery.steps", "none")
        wait_for(lambda: settled(job_ids), timeout=90)
    finally:
        for proc in [*victims, *([recovery] if recovery else [])]:
            kill_tree(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            proc.stderr.close()
    # rq's failure of an abandoned job is seen a moment before its history event is pushed
    consistent(job_ids, timeout=30)
    for job_id in job_ids:
        assert_recorded_once(job_id)
