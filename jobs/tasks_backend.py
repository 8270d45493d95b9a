"""Django's Tasks API (django.tasks) on rq: django-tasks-rq's backend, plus priorities and run history.

Configure with ``TASKS = {"default": {"BACKEND": "jobs.tasks_backend.JobsTaskBackend",
"QUEUES": ["high", "default", "low"]}}``; workers must use jobs.worker.JobsJob (our worker classes do).
"""

from __future__ import annotations

from typing import Any

from django.tasks import DEFAULT_TASK_QUEUE_NAME
from django.utils import timezone
from django_tasks.base import TASK_MAX_PRIORITY, TaskResult, TaskResultStatus
from django_tasks.signals import task_enqueued
from django_tasks.utils import get_random_id
from django_tasks_rq import RQBackend
from django_tasks_rq.backend import failed_callback, success_callback
from rq.job import Callback, JobStatus

from jobs.history import Enqueued, run_record_enqueued
from jobs.models import RunStatus
from jobs.queues import queue_get


class JobsTaskBackend(RQBackend):
    """django-tasks-rq's RQBackend; a task's priority picks its queue (>0 high, <0 low); each task has a JobRun.

    django-tasks-rq alone refuses any priority but the default; rq has no priorities within a queue,
    so the priority maps to our three queues instead (and the maximum priority also jumps the queue).
    """

    supports_priority = True

    def queue_for(self, task: Any) -> str:
        """The rq queue of ``task``: its own queue name if set, else one chosen by its priority."""
        if task.queue_name != DEFAULT_TASK_QUEUE_NAME:
            return task.queue_name
        if task.priority > 0 and "high" in self.queues:
            return "high"
        if task.priority < 0 and "low" in self.queues:
            return "low"
        return task.queue_name

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        """django-tasks-rq's enqueue, on this process's queue (django_rq.get_queue builds a new connection
        pool per call), with the job and its "queued" history event in one Redis pipeline."""
        queue_name = self.queue_for(task)
        if queue_name != task.queue_name:
            task = task.using(queue_name=queue_name)
        self.validate_task(task)
        result = TaskResult(
            task=task,
            id=get_random_id(),
            status=TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        queue = queue_get(name=task.queue_name)
        job = queue.create_job(
            task.module_path,
            args=args,
            kwargs=kwargs,
            job_id=result.id,
            status=JobStatus.SCHEDULED if task.run_after else JobStatus.QUEUED,
            on_failure=Callback(failed_callback),
            on_success=Callback(success_callback),
            meta={"backend_name": self.alias},
        )
        run = Enqueued(
            job_id=result.id,
            name=task.module_path[:100],
            queue=task.queue_name,
            status=RunStatus.SCHEDULED if task.run_after else RunStatus.QUEUED,
            arguments={"args": list(args), "kwargs": dict(kwargs)},
            enqueued_at=timezone.now(),
            scheduled_for=task.run_after,
        )
        with queue.connection.pipeline() as pipe:
            if task.run_after is None:
                queue.enqueue_job(job, pipeline=pipe, at_front=task.priority == TASK_MAX_PRIORITY)
            else:
                queue.schedule_job(job, task.run_after, pipeline=pipe)
            run_record_enqueued(run=run, pipeline=pipe)
            pipe.execute()
        object.__setattr__(result, "enqueued_at", job.enqueued_at)
        task_enqueued.send(type(self), task_result=result)
        return result
