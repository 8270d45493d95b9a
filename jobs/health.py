"""The jobs app's health checks (switchboard.health): workers per queue, the cron scheduler, history flush lag."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from django.utils import timezone
from rq.cron import CronScheduler

from jobs.conf import setting
from jobs.history import history_key
from jobs.periodic import periodic_entries
from jobs.queues import queue_get
from jobs.worker import JobsWorker
from switchboard.health import Check


def check_workers() -> Check:
    """At least one live worker (its heartbeat key not expired) listens on each of JOBS_WORKER_QUEUES."""
    per_queue = {}
    for name in setting("JOBS_WORKER_QUEUES"):
        queue = queue_get(name=name)
        per_queue[name] = len(JobsWorker.all(queue=queue))
    return Check("jobs_workers", all(per_queue.values()), {"workers": per_queue})


def check_scheduler() -> Check:
    """rq's cron scheduler (rqcron: the apps' periodic tasks and JOBS_PERIODIC) is alive, unless there is none."""
    connection = queue_get(name=setting("JOBS_QUEUES")[0]).connection
    schedulers = CronScheduler.all(connection)
    required = bool(periodic_entries())
    return Check("jobs_scheduler", bool(schedulers) or not required, {"alive": len(schedulers), "required": required})


def check_history_flush_lag() -> Check:
    """How old the oldest run-history event not yet applied to the database is (at most JOBS_HEALTH_MAX_FLUSH_LAG s)."""
    connection = queue_get(name=setting("JOBS_QUEUES")[0]).connection
    pending = int(connection.llen(history_key()))
    lag = 0.0
    if pending:
        oldest = connection.lindex(history_key(), 0)
        try:
            at = datetime.fromisoformat(json.loads(oldest)["at"])
            lag = max(0.0, (timezone.now() - at).total_seconds())
        except (TypeError, ValueError, KeyError):
            lag = 0.0  # an unreadable event is dropped by the next flush; it says nothing about lag
    limit = float(setting("JOBS_HEALTH_MAX_FLUSH_LAG"))
    return Check(
        "jobs_history_flush_lag", lag <= limit, {"pending": pending, "lag_seconds": round(lag, 1), "max": limit}
    )


def health_checks() -> list[Callable[[], Check]]:
    """What JobsConfig.health_checks() declares."""
    return [check_workers, check_scheduler, check_history_flush_lag]
