"""The rq queues of the jobs app: one django-rq queue object per name and process."""

from __future__ import annotations

import functools
from typing import Any

import django_rq
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from rq.queue import Queue

# A dotted path, resolved by django-rq when the queue is built: the worker module imports the run history,
# which reads its connection from here.
JOB_CLASS = "jobs.worker.JobsJob"


def queue_get(*, name: str) -> Queue:
    """The django-rq queue ``name`` (JobsJob class), one per process: its connection pool is reused.

    django_rq.get_queue() builds a new connection pool on every call, which costs a TCP connect
    and an INFO round trip per enqueue.
    """
    return _queue(name, id(settings.RQ_QUEUES))


@functools.cache
def _queue(name: str, _config_id: int) -> Queue:
    return django_rq.get_queue(name, job_class=JOB_CLASS)


@receiver(setting_changed)
def _forget_queues(*, setting: str, **kwargs: Any) -> None:
    if setting in ("RQ_QUEUES", "REDIS_URL"):
        _queue.cache_clear()
