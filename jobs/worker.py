"""rq worker and job classes with this app's hooks: run history, dead-worker timing, DB connection care.

Use them with django-rq (`rqworker --worker-class jobs.worker.JobsWorker`) or `manage.py jobs_worker`.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from django.db import connections
from django_tasks_rq import Job as TasksJob
from django_tasks_rq.compat import TASK_CLASSES
from rq import worker_registration
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.executions import Execution
from rq.job import Job, _job_stack
from rq.queue import Queue
from rq.registry import clean_registries
from rq.utils import now
from rq.worker import SimpleWorker, Worker, WorkerStatus

from jobs.conf import setting
from jobs.flusher import HistoryFlusher
from jobs.heartbeat import RunningJobHeartbeat
from jobs.history import (
    run_finished_after,
    run_record_failed,
    run_record_finished,
    run_record_started,
)
from jobs.outage import REDIS_DOWN, safely, until_redis_answers
from jobs.recovery import intermediate_requeue, record_abandoned
from jobs.scheduler import JobsScheduler
from switchboard.metrics import counter_flush_final

logger = logging.getLogger(__name__)


class JobsJob(TasksJob):
    """An rq Job that runs plain functions and Django Tasks (django-tasks-rq's shim) alike."""

    def _is_task(self) -> bool:
        return isinstance(Job.func.fget(self), TASK_CLASSES)  # type: ignore[attr-defined]

    @property
    def func(self) -> Any:
        return Job.func.fget(self)  # type: ignore[attr-defined]

    #: Set by our workers once the PERSIST of the job key went out with their start-of-job transaction.
    persisted = False

    def perform(self) -> Any:
        if self._is_task():
            return super().perform()
        if not self.persisted:
            return Job.perform(self)
        # rq's Job.perform without its PERSIST round trip (already sent; rq 2.12's body otherwise).
        _job_stack.push(self)
        try:
            self._result = self._execute()
        finally:
            assert self is _job_stack.pop()
        return self._result

    def _execute(self) -> Any:
        if self._is_task():
            return super()._execute()
        return Job._execute(self)


HEARTBEAT_COALESCE = 1.0


class JobsWorkerMixin:
    """Hooks shared by the forking and the simple worker.

    A Redis outage does not stop the worker (rq 2.12 quits on the first ConnectionError outside its
    dequeue): heartbeats and state updates are skipped while Redis is down (the next one catches up),
    and every other step of the loop, in the worker and in the work horse, waits until Redis answers.
    A job whose end could not be recorded stays in the started registry, where the abandoned-job path
    finds it once its heartbeat expires.
    """

    job_class = JobsJob  # a subclass's own job_class, or the job_class argument, wins
    runs_history_flusher = True  # a pool's work processes leave it to their supervisor

    def work(self, *args: Any, **kwargs: Any) -> bool:
        """rq's work loop, with the history flusher process running beside it."""
        if not self.runs_history_flusher:
            return super().work(*args, **kwargs)
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
        super().__init__(
            *args,
            job_monitoring_interval=job_monitoring_interval or setting("JOBS_MONITORING_INTERVAL"),
            maintenance_interval=maintenance_interval or setting("JOBS_MAINTENANCE_INTERVAL"),
            **kwargs,
        )
        self.heartbeat_grace = int(heartbeat_grace if heartbeat_grace is not None else setting("JOBS_HEARTBEAT_GRACE"))
        self.push_exc_handler(record_abandoned)

    # -- fewer round trips: coalesced worker bookkeeping ------------------------------------------------
    # rq 2.12 sends the worker's state and heartbeat on their own several times per job (about 18 round
    # trips per job in all). A heartbeat sent less than HEARTBEAT_COALESCE s ago with at least the same
    # TTL, or a state that Redis already holds, is not sent again; the ones that remain go out inside the
    # transactions rq sends anyway (start of job, success). See README "Jobs: worker round trips".
    _sent_state: str | None = None
    _sent_heartbeat: tuple[float, int] = (-1e9, 0)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        timeout = timeout or self.worker_ttl + 60
        if pipeline is not None:
            super().heartbeat(timeout, pipeline=pipeline)
            self._sent_heartbeat = (time.monotonic(), timeout)
            return
        sent_at, sent_ttl = self._sent_heartbeat
        if time.monotonic() - sent_at < HEARTBEAT_COALESCE and sent_ttl >= timeout:
            return
        try:
            with self.connection.pipeline(transaction=False) as pipe:  # HSET + EXPIRE: one round trip
                super().heartbeat(timeout, pipeline=pipe)
                pipe.execute()
            self._sent_heartbeat = (time.monotonic(), timeout)
        except REDIS_DOWN as exc:
            logger.warning("jobs: worker heartbeat skipped, Redis does not answer (%s)", exc)

    def set_state(self, state: str, pipeline: Any = None) -> None:
        if pipeline is not None:
            super().set_state(state, pipeline=pipeline)
            self._sent_state = state
            return
        if state == self._sent_state:
            self._state = state
            return
        try:
            super().set_state(state)
            self._sent_state = state
        except REDIS_DOWN:
            self._state, self._sent_state = state, None

    def set_current_job_working_time(self, current_job_working_time: float, pipeline: Any = None) -> None:
        if pipeline is not None:
            return super().set_current_job_working_time(current_job_working_time, pipeline=pipeline)
        try:
            super().set_current_job_working_time(current_job_working_time)
        except REDIS_DOWN:
            self.current_job_working_time = current_job_working_time

    def maintain_heartbeats(self, job: Job) -> None:
        try:
            super().maintain_heartbeats(job)
        except REDIS_DOWN as exc:
            logger.warning("jobs: heartbeat of job %s skipped, Redis does not answer (%s)", job.id, exc)

    _suspension_checked = -1e9

    def check_for_suspension(self, burst: bool) -> None:
        """rq asks Redis before every job whether `rq suspend` is on; we ask at most once per HEARTBEAT_COALESCE."""
        if time.monotonic() - self._suspension_checked < HEARTBEAT_COALESCE:
            return
        until_redis_answers("checking for suspension", super().check_for_suspension, burst)
        self._suspension_checked = time.monotonic()

    def run_maintenance_tasks(self) -> None:
        until_redis_answers("running maintenance", super().run_maintenance_tasks)

    def clean_registries(self) -> None:
        """rq 2.12's maintenance pass, with the intermediate list handled by ``intermediate_requeue``.

        rq fails a job it finds in the intermediate list a minute after it first saw it ("stuck in
        intermediate queue"), although such a job never started.
        """
        for queue in self.queues:
            if queue.acquire_maintenance_lock():  # one worker per queue at a time, as in rq
                try:
                    self.log.info("Worker %s: cleaning registries for queue: %s", self.name, queue.name)
                    clean_registries(queue, self._exc_handlers)
                    worker_registration.clean_worker_registry(queue)
                    intermediate_requeue(queue, grace=float(setting("JOBS_INTERMEDIATE_GRACE")))
                finally:
                    queue.release_maintenance_lock()
        self.last_cleaned_at = now()

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        return until_redis_answers("dequeueing", super().dequeue_job_and_maintain_ttl, timeout, max_idle_time)

    def prepare_execution(self, job: Job) -> Any:
        return until_redis_answers(f"preparing job {job.id}", super().prepare_execution, job)

    def teardown(self) -> None:
        try:
            super().teardown()
        except REDIS_DOWN as exc:
            logger.warning("jobs: could not register the worker's death, Redis does not answer (%s)", exc)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """rq's scheduler start, with JobsScheduler (short lock, always running, polls for its locks)."""
        self.scheduler = JobsScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        if not burst:
            until_redis_answers("starting the scheduler", self.scheduler.acquire_locks, auto_start=True)
            return
        if self.scheduler.acquire_locks():
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()
            finally:
                self.scheduler.release_locks()
                self.scheduler.register_death()

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

    #: SimpleWorker only: rq's prepare_execution is sent with prepare_job_execution (same process).
    _execution_deferred = False
    #: SimpleWorker only: the success transaction also marks the worker idle and sends its heartbeat.
    _idle_in_success = False
    _finishing: Job | None = None

    @property
    def _execution_id(self) -> str:
        return self.execution.id if self.execution else ""

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        until_redis_answers(f"starting job {job.id}", self._prepare_job_execution, job, remove_from_intermediate_queue)
        if isinstance(job, JobsJob):
            job.persisted = True

    def _prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool) -> None:
        """rq 2.12's prepare_job_execution as ONE transaction, which also holds the "started" history event,
        the PERSIST of the job key (rq's Job.perform sends it alone) and, in a SimpleWorker, what rq's
        prepare_execution sends in a transaction of its own (the execution, the started registry, state busy).
        """
        with self.connection.pipeline() as pipeline:
            heartbeat_ttl = self.get_heartbeat_ttl(job)
            if self._execution_deferred:
                self.execution = Execution.create(job, heartbeat_ttl, pipeline=pipeline, worker_name=self.name)
                self.set_state(WorkerStatus.BUSY, pipeline=pipeline)
            self.set_current_job_id(job.id, pipeline=pipeline)
            self.set_current_job_working_time(0, pipeline=pipeline)
            self.heartbeat(heartbeat_ttl, pipeline=pipeline)
            job.heartbeat(now(), heartbeat_ttl, pipeline=pipeline)
            job.prepare_for_execution(self.name, pipeline=pipeline)
            if remove_from_intermediate_queue:
                pipeline.lrem(Queue(job.origin, connection=self.connection).intermediate_queue_key, 1, job.id)
            pipeline.persist(job.key)
            run_record_started(job=job, worker_name=self.name, execution_id=self._execution_id, pipeline=pipeline)
            pipeline.execute()
        self._execution_deferred = False
        self.procline(f"Processing {job.func_name} from {job.origin} since {time.time()}")

    def handle_execution_ended(self, job: Job, queue: Any, heartbeat_ttl: int) -> None:
        """rq stores the job's heartbeat before its callbacks run; with no callback to run (a success
        without on_success callback), the success transaction that follows updates the job anyway."""
        if sys.exc_info()[0] is None and job.success_callback is None:
            job.ended_at = now()
            return
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def handle_job_success(self, job: Job, queue: Any, started_job_registry: Any) -> None:
        self._finishing = job
        try:
            until_redis_answers(f"recording the success of job {job.id}", super().handle_job_success, job, queue,
                                started_job_registry)  # fmt: skip
        finally:
            self._finishing = None
        safely("the end of a progress bar", run_finished_after, job=job)

    def cleanup_execution(self, job: Job, pipeline: Any) -> None:
        """In rq's success transaction: also the "finished" history event (and, SimpleWorker, state idle)."""
        execution_id = self._execution_id  # cleanup forgets the execution
        super().cleanup_execution(job, pipeline)
        if self._finishing is job:
            run_record_finished(job=job, execution_id=execution_id, pipeline=pipeline)
            if self._idle_in_success:
                self.set_state(WorkerStatus.IDLE, pipeline=pipeline)
                self.heartbeat(pipeline=pipeline)

    def handle_job_failure(self, job: Job, queue: Any, started_job_registry: Any = None, exc_string: str = "") -> None:
        stopped = self._stopped_job_id == job.id
        retrying = bool(job.should_retry) and not stopped
        execution_id = self._execution_id  # rq's failure handling forgets the execution
        until_redis_answers(
            f"recording the failure of job {job.id}",
            super().handle_job_failure,
            job,
            queue,
            started_job_registry=started_job_registry,
            exc_string=exc_string,
        )
        in_parent = isinstance(self, Worker) and not self._is_horse
        safely(
            "a failure",
            run_record_failed,
            job=job,
            exc_string=exc_string,
            retrying=retrying,
            stopped=stopped,
            in_parent=in_parent,
            execution_id=execution_id,
        )


class JobsWorker(JobsWorkerMixin, Worker):
    """rq's forking worker (a work horse per job: timeouts and stop requests kill only the horse)."""

    def monitor_work_horse(self, job: Job, queue: Any) -> None:
        """rq's monitor; if Redis is down when a dead horse's job should be failed, leave it to the cleanup."""
        try:
            super().monitor_work_horse(job, queue)
        except REDIS_DOWN as exc:
            logger.warning(
                "jobs: could not record the end of job %s, Redis does not answer (%s); the abandoned-job "
                "cleanup recovers it once Redis is back",
                job.id,
                exc,
            )
            until_redis_answers("waiting after a job", self.connection.ping)

    def fork_work_horse(self, job: Job, queue: Any) -> None:
        # A forked child must not share the parent's database sockets (breaks PostgreSQL sessions).
        connections.close_all()
        super().fork_work_horse(job, queue)

    def perform_job(self, job: Job, queue: Any) -> bool:
        try:
            return super().perform_job(job, queue)
        finally:
            if self._is_horse:  # the horse ends with os._exit next: no exit handlers
                connections.close_all()
                counter_flush_final()  # what the job counted (switchboard.metrics)


class JobsSimpleWorker(JobsWorkerMixin, SimpleWorker):
    """rq's non-forking worker: faster, but a job cannot be stopped without stopping the worker.

    A thread keeps the running job's heartbeats fresh (jobs.heartbeat), so the execution's TTL stays
    monitoring interval + grace however long the job runs.
    """

    _idle_in_success = True
    _job_heartbeat: RunningJobHeartbeat | None = None

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        super().prepare_job_execution(job, remove_from_intermediate_queue)
        if self._job_heartbeat is None:
            self._job_heartbeat = RunningJobHeartbeat(self)
        self._job_heartbeat.begin(job)

    def handle_execution_ended(self, job: Job, queue: Any, heartbeat_ttl: int) -> None:
        if self._job_heartbeat is not None:
            self._job_heartbeat.end()
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def teardown(self) -> None:
        if self._job_heartbeat is not None:
            self._job_heartbeat.stop()
        super().teardown()

    def prepare_execution(self, job: Job) -> None:
        """Deferred: prepare_job_execution, next in this same process, sends it in its own transaction."""
        self._execution_deferred = True

    def perform_job(self, job: Job, queue: Any) -> bool:
        try:
            return super().perform_job(job, queue)
        finally:
            if self._job_heartbeat is not None:
                self._job_heartbeat.end()
            for conn in connections.all(initialized_only=True):
                if conn.errors_occurred:
                    conn.close_if_unusable_or_obsolete()
