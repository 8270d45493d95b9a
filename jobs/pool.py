"""The default worker: a supervisor and a pre-forked pool of long-lived work processes (Celery prefork's shape).

Each work process is a ``JobsPoolChild`` (a JobsSimpleWorker): a registered rq worker of its own, on the
pool's queue, that dequeues with rq's reliable BLMOVE and runs many jobs in-process, so a job costs no fork.
The supervisor (``WorkerPool``) is not an rq worker; it runs the history flusher and the scheduler for the
pool, and it does what the parent of rq's forking worker does for its work horse:

- it listens for rq's commands to its children (``send_stop_job_command``, kill-horse, shutdown): a stopped
  job's process is killed, the job recorded as stopped, and a new process takes its place;
- it kills a process whose job is past its timeout + ``JOBS_WORKER_KILL_GRACE`` (a job stuck in C code or
  with signals blocked, which rq's SIGALRM cannot end) and records the job as timed out;
- when a process dies mid-job (os._exit, a segfault, SIGKILL from outside, the OOM killer) it records the job
  as rq's forking worker does for a lost work horse ("Work-horse terminated unexpectedly": retried if it
  has retries left, else failed), deregisters the dead worker, and starts a new process at once;
- a process leaves after ``max_jobs`` jobs or once its memory passes ``max_memory_mb``, and is replaced.

The supervisor knows what each process runs from a slot of shared memory the process writes at the start
and end of each job (no Redis round trip). Before it kills a process for a job it freezes it (SIGSTOP) and
reads the slot again, so a process that has just moved on to another job is never killed for the old one.
"""

from __future__ import annotations

import ctypes
import logging
import mmap
import os
import random
import signal
import time
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import redis
from django.db import connections
from rq.command import parse_payload
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import JobStatus
from rq.logutils import setup_loghandlers
from rq.utils import now

from jobs.conf import setting
from jobs.flusher import HistoryFlusher
from jobs.outage import REDIS_DOWN, until_redis_answers
from jobs.pool_child import SLOT, JobsPoolChild, Running, Slot
from jobs.scheduler import JobsScheduler
from jobs.worker import JobsWorker
from switchboard.metrics import counter_flush_final

logger = logging.getLogger("jobs.pool")

PR_SET_PDEATHSIG = 1
STOP_AGAIN_AFTER = 1.0  # seconds: a stop signal sooner than this after the first is the same request


@dataclass
class Child:
    index: int
    name: str
    pid: int
    born: float = field(default_factory=time.monotonic)
    kill: tuple[str, str] | None = None  # (job id, "stop" | "timeout" | "kill") when the pool killed it


class WorkerPool:
    """Supervise ``size`` JobsPoolChild processes on ``queues`` (give it ONE queue: rq's reliable dequeue)."""

    def __init__(
        self,
        queues: list,
        *,
        connection: redis.Redis,
        size: int | None = None,
        name: str | None = None,
        max_jobs: int | None = None,
        max_memory_mb: int | None = None,
        kill_grace: float | None = None,
        burst: bool = False,
        with_scheduler: bool = False,
        logging_level: str = "INFO",
        worker_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.queues, self.connection = queues, connection
        self.size = int(size or setting("JOBS_WORKER_PROCESSES") or os.cpu_count() or 1)
        self.name = name or uuid4().hex[:12]
        self.max_jobs = max_jobs if max_jobs is not None else setting("JOBS_WORKER_MAX_JOBS")
        self.max_memory_mb = int(max_memory_mb if max_memory_mb is not None else setting("JOBS_WORKER_MAX_MEMORY_MB"))
        self.kill_grace = float(kill_grace if kill_grace is not None else setting("JOBS_WORKER_KILL_GRACE"))
        self.burst, self.with_scheduler, self.logging_level = burst, with_scheduler, logging_level
        self.worker_kwargs = worker_kwargs or {}
        self.memory = mmap.mmap(-1, SLOT.size * self.size)
        self.slots = [Slot(self.memory, i) for i in range(self.size)]
        self.children: dict[int, Child] = {}  # by slot index
        self.respawn: dict[int, float] = {}  # slot index -> monotonic time its next process may start
        self.spawned = 0
        self.stopping = self.stop_asked = 0  # 1: warm (let jobs finish), 2: cold (kill them)
        self.first_stop_at = 0.0
        self.prefix = f"rq:pubsub:{self.name}-"

    # -- life cycle ---------------------------------------------------------------------------------------
    def run(self) -> None:
        """Start the processes and supervise them until asked to stop (or, in burst mode, the queue is empty)."""
        setup_loghandlers(self.logging_level, name="jobs.pool")
        handlers = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        flusher = HistoryFlusher(self.connection, float(setting("JOBS_HISTORY_FLUSH_INTERVAL"))).start()
        scheduler = self._start_scheduler()
        pubsub = None
        try:
            for index in range(self.size):
                self._spawn(index)
            logger.info("Pool %s: %d work processes on %s", self.name, self.size, ", ".join(self._queue_names()))
            while self.children or self.respawn:
                if self.stop_asked > self.stopping:
                    self._stop(self.stop_asked)
                pubsub = self._listen(pubsub)
                self._reap()
                self._respawn_due()
                self._enforce_timeouts()
                if scheduler is not None and not self.stopping and not scheduler._process.is_alive():
                    until_redis_answers("restarting the scheduler", scheduler.acquire_locks, auto_start=True)
        finally:
            for child in list(self.children.values()):  # only after an error of the pool itself
                _signal(child, signal.SIGKILL)
                self._wait(child)
            if pubsub is not None:
                pubsub.close()
            if scheduler is not None and scheduler._process and scheduler._process.is_alive():
                scheduler._process.terminate()
                scheduler._process.join(5)
            flusher.stop()
            for sig, handler in handlers.items():  # run in-process (call_command), the caller's come back
                signal.signal(sig, handler)

    def _request_stop(self, signum: int, frame: Any) -> None:
        # Acted on by the supervising loop, never inside the signal handler. Ctrl-C reaches a terminal's whole
        # process group and a supervisor (run_site, honcho) then forwards its own SIGTERM: signals that close
        # together are one request; "again" means a second one at least STOP_AGAIN_AFTER seconds later.
        now = time.monotonic()
        if self.stop_asked and now - self.first_stop_at < STOP_AGAIN_AFTER:
            return
        self.first_stop_at = self.first_stop_at or now
        self.stop_asked += 1

    def _stop(self, level: int) -> None:
        if not self.stopping:
            logger.info("Pool %s: stopping once the running jobs end (again to stop them now)", self.name)
            for child in self.children.values():
                _signal(child, signal.SIGTERM, group=False)  # rq's warm shutdown: the current job ends first
        self.stopping = level
        self.respawn.clear()
        if level == 1:
            return
        for child in list(self.children.values()):
            running = self._frozen_running(child)
            if running is not None:
                self._kill(child, running.job_id, "kill")

    def _queue_names(self) -> list[str]:
        return [q.name for q in self.queues]

    def _start_scheduler(self) -> Any:
        if not self.with_scheduler:
            return None
        scheduler = JobsScheduler(self.queues, connection=self.connection, logging_level=self.logging_level)
        if self.burst:
            if scheduler.acquire_locks():
                try:
                    scheduler.enqueue_scheduled_jobs()
                finally:
                    scheduler.release_locks()
            return None
        until_redis_answers("starting the scheduler", scheduler.acquire_locks, auto_start=True)
        return scheduler

    # -- work processes -----------------------------------------------------------------------------------
    def _spawn(self, index: int) -> None:
        self.spawned += 1
        name = f"{self.name}-{index}.{self.spawned}"
        self.slots[index].write(None)
        connections.close_all()  # no database socket may be shared with a child
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = self._child_main(index, name)
                counter_flush_final()  # what its jobs counted: os._exit runs no exit handlers
            finally:
                os._exit(code)
        self.children[index] = Child(index, name, pid)

    def _child_main(self, index: int, name: str) -> int:
        parent = os.getppid()
        os.setpgrp()  # the pool kills the whole group: the job's own subprocesses too
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass  # not Linux: the child notices its parent is gone only when it is killed
        if os.getppid() != parent:
            return 0
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        random.seed()
        worker = JobsPoolChild(
            self.queues,
            connection=self.connection,
            name=name,
            slot=self.slots[index],
            max_memory_mb=self.max_memory_mb,
            **self.worker_kwargs,
        )
        try:
            worker.work(burst=self.burst, max_jobs=self.max_jobs or None, logging_level=self.logging_level)
        except Exception:
            logger.exception("Pool %s: work process %s failed", self.name, name)
            return 1
        return 0

    def _reap(self) -> None:
        for child in list(self.children.values()):
            pid, status = os.waitpid(child.pid, os.WNOHANG)
            if pid:
                self._exited(child, status)

    def _wait(self, child: Child) -> None:
        _, status = os.waitpid(child.pid, 0)
        self._exited(child, status)

    def _exited(self, child: Child, status: int) -> None:
        """A work process ended: record the job it was running, if any, and replace it."""
        del self.children[child.index]
        _, running = self.slots[child.index].read()
        clean = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        if running is not None or not clean:
            reason = child.kill[1] if child.kill else "lost"
            signal_msg = f" (signal {os.WTERMSIG(status)})" if os.WIFSIGNALED(status) else ""
            logger.warning("Pool %s: work process %s ended (%s%s)", self.name, child.name, reason, signal_msg)
            _safely_record(self, child, running, status, reason)
        if self.stopping or (self.burst and clean):
            return
        # A process that dies at once must not make the pool spin: its replacement waits a second. The
        # supervisor does not sleep meanwhile; it goes on reaping, so a second process lost in that second has
        # its job recorded at once, before rq's abandoned-job cleanup (in the other processes) can take it.
        died_young = not clean and time.monotonic() - child.born < 1
        self.respawn[child.index] = time.monotonic() + (1 if died_young else 0)

    def _respawn_due(self) -> None:
        now = time.monotonic()
        for index, due in list(self.respawn.items()):
            if due <= now:
                del self.respawn[index]
                self._spawn(index)

    # -- commands and timeouts ----------------------------------------------------------------------------
    def _listen(self, pubsub: Any) -> Any:
        """Wait up to 0.1 s for rq commands to the pool's workers and act on them; returns the subscription."""
        try:
            if pubsub is None:
                pubsub = self.connection.pubsub(ignore_subscribe_messages=True)
                pubsub.psubscribe(self.prefix.replace("[", "\\[").replace("*", "\\*").replace("?", "\\?") + "*")
            message = pubsub.get_message(timeout=0.1)
            while message is not None:
                self._command(message)
                message = pubsub.get_message(timeout=0)
            return pubsub
        except REDIS_DOWN as exc:
            logger.warning("Pool %s: Redis does not answer (%s); commands wait until it does", self.name, exc)
            if pubsub is not None:
                pubsub.reset()
            time.sleep(0.5)
            return None

    def _command(self, message: dict) -> None:
        name = message["channel"].decode()[len("rq:pubsub:") :]
        child = next((c for c in self.children.values() if c.name == name), None)
        payload = parse_payload(message)
        if child is None:
            return
        command = payload.get("command")
        if command == "shutdown":
            _signal(child, signal.SIGTERM, group=False)  # it leaves after its job; the pool replaces it
        elif command in ("stop-job", "kill-horse"):
            running = self._frozen_running(child)
            wanted = payload.get("job_id") if command == "stop-job" else (running.job_id if running else None)
            if running is not None and running.job_id == wanted:
                self._kill(child, running.job_id, "stop" if command == "stop-job" else "kill")
            else:
                _resume(child)

    def _enforce_timeouts(self) -> None:
        moment = time.time()
        for child in list(self.children.values()):
            _, running = self.slots[child.index].read()
            if running is None or not running.deadline or moment < running.deadline + self.kill_grace:
                continue
            frozen = self._frozen_running(child)
            if frozen is not None and frozen.job_id == running.job_id and frozen.execution_id == running.execution_id:
                self._kill(child, running.job_id, "timeout")
            else:
                _resume(child)

    def _frozen_running(self, child: Child) -> Running | None:
        """Freeze ``child`` (SIGSTOP) and return what it runs; the caller kills it or lets it go on (SIGCONT)."""
        try:
            os.killpg(child.pid, signal.SIGSTOP)
        except ProcessLookupError:
            return None
        for _ in range(100):  # stopped in the middle of writing its slot: let it finish the write
            seq, running = self.slots[child.index].read()
            if seq % 2 == 0:
                return running
            _resume(child)
            time.sleep(0.001)
            os.killpg(child.pid, signal.SIGSTOP)
        _resume(child)
        return None

    def _kill(self, child: Child, job_id: str, reason: str) -> None:
        logger.warning("Pool %s: killing work process %s (%s of job %s)", self.name, child.name, reason, job_id)
        child.kill = (job_id, reason)
        _signal(child, signal.SIGKILL)
        self._wait(child)


def _signal(child: Child, sig: int, *, group: bool = True) -> None:
    try:
        (os.killpg if group else os.kill)(child.pid, sig)
    except ProcessLookupError:
        pass


def _resume(child: Child) -> None:
    _signal(child, signal.SIGCONT)


def _safely_record(pool: WorkerPool, child: Child, running: Running | None, status: int, reason: str) -> None:
    try:
        record_lost_process(pool, child, running, status, reason)
    except Exception:
        logger.exception("Pool %s: could not record the end of work process %s", pool.name, child.name)


def record_lost_process(pool: WorkerPool, child: Child, running: Running | None, status: int, reason: str) -> None:
    """What rq's forking worker does when its work horse dies: record the job's end, here as the dead
    process's worker (so its own counters, execution and history attempt are the ones updated)."""
    worker = JobsWorker(pool.queues, connection=pool.connection, name=child.name, **pool.worker_kwargs)
    if running is not None:
        queue = next((q for q in pool.queues if q.name == running.queue), pool.queues[0])
        try:
            job = worker.job_class.fetch(running.job_id, connection=pool.connection, serializer=worker.serializer)
        except NoSuchJobError:
            job = None
        if job is not None and reason == "stop":
            worker.execution = Execution(running.execution_id, job.id, connection=pool.connection)
            worker._stopped_job_id = job.id
            if job.stopped_callback:
                job.execute_stopped_callback(worker.death_penalty_class)
            worker.handle_job_failure(job, queue=queue, exc_string="Job stopped by user, work-horse terminated.")
        elif job is not None and job.get_status() not in (JobStatus.FINISHED, JobStatus.FAILED):
            worker.execution = Execution(running.execution_id, job.id, connection=pool.connection)
            job.ended_at = now()
            if reason == "timeout":
                exc_string = (
                    f"rq.timeouts.JobTimeoutException: Task exceeded maximum timeout value ({job.timeout} seconds) "
                    f"and did not stop; its work process was killed {pool.kill_grace:g} s later"
                )
            else:
                signal_msg = f" (signal {os.WTERMSIG(status)})" if os.WIFSIGNALED(status) else ""
                exc_string = f"Work-horse terminated unexpectedly; waitpid returned {status}{signal_msg}; "
            worker.handle_work_horse_killed(job, child.pid, status, None)
            worker.handle_job_failure(job, queue=queue, exc_string=exc_string)
    until_redis_answers(f"deregistering worker {child.name}", worker.register_death)
