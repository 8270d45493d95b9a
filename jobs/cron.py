"""Periodic jobs for rq's cron scheduler: `manage.py jobs_cron` registers them when it imports this.

Two sources, in order: the periodic jobs the installed apps declare on their AppConfig (``periodic_tasks``,
read through switchboard.registry: the jobs app's own history prune, the ledger's resolver, ...), then the
site's JOBS_PERIODIC entries, which name catalog jobs. A JOBS_PERIODIC entry whose job is not in the catalog
here is skipped. The cron scheduler enqueues the function directly; the worker hooks create its JobRun on
first sight.
"""

from __future__ import annotations

import logging

from django.utils.module_loading import import_string
from rq import cron

from jobs.conf import setting
from jobs.periodic import periodic_entries

logger = logging.getLogger(__name__)


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
