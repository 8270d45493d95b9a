"""The periodic jobs of the site: what the installed apps declare on their AppConfig (``periodic_tasks``, read
through switchboard.registry: jobs' own history prune, the ledger's resolver, ...), then the site's
JOBS_PERIODIC entries, which name catalog jobs (one not in the catalog here is skipped). jobs.cron registers
them with rq's cron scheduler; the health check asks whether there are any.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from jobs.catalog import SYSTEM_QUEUE, UnknownJob, spec_get
from jobs.conf import setting
from switchboard.registry import periodic_tasks

logger = logging.getLogger(__name__)


def periodic_entries() -> list[dict[str, Any]]:
    """Every periodic job to register: the apps' declarations, then JOBS_PERIODIC's available entries."""
    entries = [
        {"name": job["name"], "func": job["func"], "queue": job.get("queue", SYSTEM_QUEUE),
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
