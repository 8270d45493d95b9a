"""The Celery peer of bench_jobs.py: Redis broker, Redis results (results on), a no-op task."""

import os

from celery import Celery

app = Celery("bench_jobs", broker=os.environ["BENCH_CELERY_BROKER"], backend=os.environ["BENCH_CELERY_BACKEND"])
app.conf.update(task_ignore_result=False, worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)


@app.task(name="noop")
def noop():
    """Do nothing."""


@app.task(name="timed")
def timed(ms, sent):
    """Work ``ms`` milliseconds (sleep); return how long the task waited between its send and its start."""
    import time

    waited = time.time() - sent
    time.sleep(ms / 1000)
    return waited
