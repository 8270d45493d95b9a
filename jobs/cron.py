"""Periodic jobs for rq's cron scheduler: `manage.py rqcron jobs.cron` registers settings.JOBS_PERIODIC.

Each entry names a catalog job; an entry whose job is not available here (the ledger's resolver without
the ledger app) is skipped. The cron scheduler enqueues the job's function directly; the worker hooks
create its JobRun on first sight.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from rq import cron

from jobs.catalog import UnknownJob, spec_get
from jobs.conf import setting

logger = logging.getLogger(__name__)


def periodic_register() -> list[str]:
    """Register every available JOBS_PERIODIC entry with rq.cron; returns the names registered."""
    names = []
    for entry in setting("JOBS_PERIODIC"):
        try:
            spec = spec_get(name=entry["job"])
        except UnknownJob:
            logger.info("jobs.cron: %s is not available here; not scheduled", entry["job"])
            continue
        if bool(entry.get("interval")) == bool(entry.get("cron")):
            raise ImproperlyConfigured(f"JOBS_PERIODIC entry {entry!r} needs exactly one of 'interval' or 'cron'.")
        cron.register(
            import_string(spec.func),
            queue_name=entry.get("queue", spec.queue),
            kwargs=entry.get("kwargs") or {},
            interval=entry.get("interval"),
            cron=entry.get("cron"),
            job_timeout=spec.timeout,
            result_ttl=setting("JOBS_RESULT_TTL"),
            failure_ttl=setting("JOBS_FAILURE_TTL"),
            meta={"jobs_name": spec.name, "periodic": True},
            name=f"jobs:{spec.name}",
        )
        names.append(spec.name)
    return names


REGISTERED = periodic_register()
