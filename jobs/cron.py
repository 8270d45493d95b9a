"""Periodic jobs for rq's cron scheduler: `manage.py rqcron jobs.cron` registers them when it imports this.

Two sources, in order: the periodic jobs the installed apps declare on their AppConfig (``periodic_tasks``,
read through switchboard.registry: the jobs app's own history prune, the ledger's resolver, ...), then the
site's JOBS_PERIODIC entries, which name catalog jobs. A JOBS_PERIODIC entry whose job is not in the catalog
here is skipped. The cron scheduler enqueues the function directly; the worker hooks create its JobRun on
first sight.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from rq import cron

from jobs.catalog import UnknownJob, spec_get
from jobs.conf import setting
from switchboard.registry import periodic_tasks

logger = logging.getLogger(__name__)


def periodic_entries() -> list[dict[str, Any]]:
    """Every periodic job to register: the apps' declarations, then JOBS_PERIODIC's available entries."""
    entries = [
        {"name": job["name"], "func": job["func"], "queue": job.get("queue", "default"),
         "timeout": job.get("timeout", 300), "interval": job.get("interval"), "cron": job.get("cron"),
         "kwargs": job.get("kwargs") or {}}
        for job in periodic_tasks()
    ]  # fmt: skip
    for entry in setting("JOBS_PERIODIC"):
        try:
            spec = spec_get(name=entry["job"])
        except UnknownJob:
            logger.info("jobs.cron: %s is not in the catalog here; not scheduled", entry["job"])
            continue
        if bool(entry.get("interval")) == bool(entry.get("cron")):
            raise ImproperlyConfigured(f"JOBS_PERIODIC entry {entry!r} needs exactly one of 'interval' or 'cron'.")
        entries.append(
            {"name": spec.name, "func": spec.func, "queue": entry.get("queue", spec.queue), "timeout": spec.timeout,
             "interval": entry.get("interval"), "cron": entry.get("cron"), "kwargs": entry.get("kwargs") or {}}
        )  # fmt: skip
    return entries


def periodic_register() -> list[str]:
    """Register every periodic job with rq.cron; returns the names registered."""
    names = []
    for entry in periodic_entries():
        cron.register(
            import_string(entry["func"]),
            queue_name=entry["queue"],
            kwargs=entry["kwargs"],
            interval=entry["interval"],
            cron=entry["cron"],
            job_timeout=entry["timeout"],
            result_ttl=setting("JOBS_RESULT_TTL"),
            failure_ttl=setting("JOBS_FAILURE_TTL"),
            meta={"jobs_name": entry["name"], "periodic": True},
            name=f"jobs:{entry['name']}",
        )
        names.append(entry["name"])
    return names


REGISTERED = periodic_register()
