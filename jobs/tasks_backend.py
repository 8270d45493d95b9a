"""Django's Tasks API (django.tasks) on rq: django-tasks-rq's backend, plus priorities and run history.

Configure with ``TASKS = {"default": {"BACKEND": "jobs.tasks_backend.JobsTaskBackend",
"QUEUES": ["high", "default", "low"]}}``; workers must use jobs.worker.JobsJob (our worker classes do).
"""

from __future__ import annotations

from typing import Any

from django.tasks import DEFAULT_TASK_QUEUE_NAME
from django.utils import timezone
from django_tasks_rq import RQBackend

from jobs.history import run_record_enqueued
from jobs.models import JobRun, RunStatus
from jobs.services import queue_get


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
        queue_name = self.queue_for(task)
        if queue_name != task.queue_name:
            task = task.using(queue_name=queue_name)
        result = super().enqueue(task, args, kwargs)
        run = JobRun(
            job_id=result.id,
            name=task.module_path[:100],
            arguments={"args": list(args), "kwargs": dict(kwargs)},
            queue=queue_name,
            status=RunStatus.SCHEDULED if task.run_after else RunStatus.QUEUED,
            enqueued_at=timezone.now(),
            scheduled_for=task.run_after,
        )
        with queue_get(name=queue_name).connection.pipeline(transaction=False) as pipe:
            run_record_enqueued(run=run, pipeline=pipe)
            pipe.execute()
        return result
