"""Job functions for the raw rq and Celery peers of bench_jobs.py (no Django needed)."""

import os


def noop():
    """Do nothing."""


def celery_app():
    """The Celery peer: Redis broker and Redis results, prefork pool (see bench_jobs.py)."""
    from celery import Celery

    app = Celery("bench_jobs", broker=os.environ["BENCH_CELERY_BROKER"], backend=os.environ["BENCH_CELERY_BACKEND"])
    app.conf.update(task_ignore_result=False, worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)
    app.task(name="noop")(noop)
    return app


app = celery_app() if os.environ.get("BENCH_CELERY_BROKER") else None
