"""The heartbeat of a job that runs inside its worker's own process (JobsSimpleWorker and the pool's children)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from rq.job import Job

logger = logging.getLogger(__name__)


class RunningJobHeartbeat:
    """A thread that sends the running job's heartbeats (worker, execution, job) every monitoring interval.

    rq's forking worker sends them from the parent while the work horse runs the job; rq's SimpleWorker
    sends none while a job runs, so it gives the execution a TTL of the whole job timeout + 60 s, and a
    killed worker's job is found only that late. With this thread the TTL stays monitoring interval +
    grace (a dead worker is found within about that) and a long job is never taken for abandoned while
    it runs. A job that holds the GIL in C code for longer than the grace starves the thread; in the
    pool (jobs.pool) the supervisor kills such a job past its timeout.
    """

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.lock = threading.Lock()
        self.job: Job | None = None
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def begin(self, job: Job) -> None:
        """``job`` has started (its execution is in the started registry): keep its heartbeats fresh."""
        with self.lock:
            self.job = job
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="rq-job-heartbeat", daemon=True)
            self.thread.start()

    def end(self) -> None:
        """The job ended: no heartbeat may go out after this returns (its end transaction comes next)."""
        with self.lock:
            self.job = None

    def stop(self) -> None:
        self.end()
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None

    def _run(self) -> None:
        # Twice per interval: a job that starts just after a beat still gets one well within its TTL.
        while not self.stopping.wait(max(0.2, self.worker.job_monitoring_interval / 2)):
            with self.lock:
                if self.job is None or self.worker.execution is None:
                    continue
                try:
                    self.worker.maintain_heartbeats(self.job)
                except Exception:  # the next beat tries again; the job must not notice
                    logger.exception("jobs: heartbeat of job %s failed", self.job.id)
