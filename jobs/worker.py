"""rq worker and job classes with this app's hooks: run history, dead-worker timing, DB connection care.

Use them with django-rq (`rqworker --worker-class jobs.worker.JobsWorker`) or `manage.py jobs_worker`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

import redis
from django.db import close_old_connections, connections
from django_tasks_rq import Job as TasksJob
from django_tasks_rq.compat import TASK_CLASSES
from rq.exceptions import AbandonedJobError
from rq.job import Job
from rq.worker import SimpleWorker, Worker

from jobs.conf import setting

logger = logging.getLogger(__name__)


class JobsJob(TasksJob):
    """An rq Job that runs plain functions and Django Tasks (django-tasks-rq's shim) alike."""

    def _is_task(self) -> bool:
        return isinstance(Job.func.fget(self), TASK_CLASSES)  # type: ignore[attr-defined]

    @property
    def func(self) -> Any:
        return Job.func.fget(self)  # type: ignore[attr-defined]

    def perform(self) -> Any:
        if self._is_task():
            return super().perform()
        return Job.perform(self)

    def _execute(self) -> Any:
        if self._is_task():
            return super()._execute()
        return Job._execute(self)


def _safely(what: str, func, **kwargs: Any) -> None:
    """Run a history recorder; a database hiccup must never take the worker down."""
    try:
        func(**kwargs)
    except Exception:
        logger.exception("jobs: could not record %s", what)
        close_old_connections()


def record_abandoned(job: Job, exc_type: type, exc_value: BaseException, tb: Any) -> bool:
    """Worker exception handler: records abandoned jobs (those without this app's failure callback too)."""
    if exc_type is AbandonedJobError or isinstance(exc_value, AbandonedJobError):
        from jobs.history import run_record_abandoned

        _safely("an abandoned job", run_record_abandoned, job=job)
    return True


class HistoryFlusher:
    """A child process that applies the run history events (jobs.history) every ``interval`` seconds.

    A process, not a thread: the flush's JSON and SQL work then runs on another core instead of taking
    the GIL from the worker. It leaves when asked (SIGTERM) or when its worker is gone.
    """

    def __init__(self, connection: redis.Redis, interval: float) -> None:
        pool = connection.connection_pool
        self.pool_class, self.pool_kwargs = (
            type(pool),
            {"connection_class": pool.connection_class, **pool.connection_kwargs},
        )
        self.interval = interval
        self.pid = 0

    def connection(self) -> redis.Redis:
        return redis.Redis(connection_pool=self.pool_class(**self.pool_kwargs))

    def flush(self, connection: redis.Redis) -> None:
        from jobs.history import history_flush_all

        try:
            history_flush_all(connection=connection)
        except Exception:
            logger.exception("jobs: history flush failed; the events stay in Redis and are retried")
        finally:
            close_old_connections()

    def start(self) -> HistoryFlusher:
        connections.close_all()  # no database socket may be shared with the child
        pid = os.fork()
        if pid == 0:
            try:
                self._run_child()
            finally:
                os._exit(0)
        self.pid = pid
        return self

    def _run_child(self) -> None:
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the worker, which stops us
        parent = os.getppid()
        connection = self.connection()
        while not stopping.wait(self.interval) and os.getppid() == parent:
            self.flush(connection)
        connections.close_all()

    def stop(self) -> None:
        """Stop the child, then flush what is left from this process."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                    if time.monotonic() > deadline:
                        os.kill(self.pid, signal.SIGKILL)
                        os.waitpid(self.pid, 0)
                        break
                    time.sleep(0.02)
            except ChildProcessError:
                pass
            self.pid = 0
        self.flush(self.connection())
        connections.close_all()


class JobsWorkerMixin:
    """Hooks shared by the forking and the simple worker."""

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """rq's work loop, with the history flusher process running beside it."""
        flusher = HistoryFlusher(self.connection, float(setting("JOBS_HISTORY_FLUSH_INTERVAL"))).start()
        try:
            return super().work(*args, **kwargs)
        finally:
            if not self._is_horse:
                flusher.stop()

    def __init__(
        self,
        *args: Any,
        heartbeat_grace: int | None = None,
        job_monitoring_interval: int | None = None,
        maintenance_interval: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("job_class", JobsJob)
        super().__init__(
            *args,
            job_monitoring_interval=job_monitoring_interval or setting("JOBS_MONITORING_INTERVAL"),
            maintenance_interval=maintenance_interval or setting("JOBS_MAINTENANCE_INTERVAL"),
            **kwargs,
        )
        self.heartbeat_grace = int(heartbeat_grace if heartbeat_grace is not None else setting("JOBS_HEARTBEAT_GRACE"))
        self.push_exc_handler(record_abandoned)

    @property
    def dequeue_timeout(self) -> int:
        """Wake an idle worker at least every maintenance interval, so it finds abandoned jobs in time.

        rq blocks on the queue for worker_ttl - 15 s (405 s by default) and runs maintenance only between
        two waits, which would leave a dead worker's job unnoticed for minutes.
        """
        return max(1, min(self.worker_ttl - 15, int(self.maintenance_interval)))

    def get_heartbeat_ttl(self, job: Job) -> int:
        """How long an execution stays alive without a heartbeat: the monitoring interval plus our grace.

        rq hard-codes a 60 s grace; a shorter one finds dead workers sooner (tests use 1 s).
        """
        interval = self.job_monitoring_interval
        if job.timeout and job.timeout > 0:
            interval = min(max(job.timeout - self.current_job_working_time, 0), interval)
        return int(interval) + self.heartbeat_grace

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        super().prepare_job_execution(job, remove_from_intermediate_queue)
        from jobs.history import run_record_started

        _safely("a start", run_record_started, job=job, worker_name=self.name)

    def handle_job_success(self, job: Job, queue: Any, started_job_registry: Any) -> None:
        super().handle_job_success(job, queue, started_job_registry)
        from jobs.history import run_record_finished

        _safely("a success", run_record_finished, job=job)

    def handle_job_failure(self, job: Job, queue: Any, started_job_registry: Any = None, exc_string: str = "") -> None:
        stopped = self._stopped_job_id == job.id
        retrying = bool(job.should_retry) and not stopped
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)
        from jobs.history import run_record_failed

        in_parent = isinstance(self, Worker) and not self._is_horse
        _safely(
            "a failure",
            run_record_failed,
            job=job,
            exc_string=exc_string,
            retrying=retrying,
            stopped=stopped,
            in_parent=in_parent,
        )


class JobsWorker(JobsWorkerMixin, Worker):
    """rq's forking worker (a work horse per job: timeouts and stop requests kill only the horse)."""

    def fork_work_horse(self, job: Job, queue: Any) -> None:
        # A forked child must not share the parent's database sockets (breaks PostgreSQL sessions).
        connections.close_all()
        super().fork_work_horse(job, queue)

    def perform_job(self, job: Job, queue: Any) -> bool:
        try:
            return super().perform_job(job, queue)
        finally:
            if self._is_horse:
                connections.close_all()


class JobsSimpleWorker(JobsWorkerMixin, SimpleWorker):
    """rq's non-forking worker: faster, but a job cannot be stopped without stopping the worker."""

    def perform_job(self, job: Job, queue: Any) -> bool:
        try:
            return super().perform_job(job, queue)
        finally:
            for conn in connections.all(initialized_only=True):
                if conn.errors_occurred:
                    conn.close_if_unusable_or_obsolete()
