"""Run rq's cron scheduler with the site's periodic jobs (jobs.cron), waiting out Redis outages."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand
from django_rq.cron import DjangoCronScheduler

from jobs.outage import REDIS_DOWN, REDIS_RETRY_MAX_WAIT

logger = logging.getLogger("jobs.cron")


class Command(BaseCommand):
    help = (
        "Run rq's cron scheduler with the periodic jobs of the installed apps and JOBS_PERIODIC (jobs.cron), as "
        "`rqcron jobs.cron` does, but wait out a Redis outage (a restart, a Sentinel failover) instead of exiting. "
        "Run one for the whole site."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--logging-level", "-l", default="INFO",
                            choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = DjangoCronScheduler(logging_level=getattr(logging, options["logging_level"]))
        self.stdout.write("Loading cron configuration from jobs.cron")  # as rqcron announces it
        scheduler.load_config_from_file("jobs.cron")
        self.stdout.write(f"Starting cron scheduler with {len(scheduler.get_jobs())} jobs...")
        wait = 0.5
        while True:
            started = time.monotonic()
            try:
                scheduler.start()  # returns on SIGTERM or SIGINT; its jobs keep their next enqueue times
                return
            except REDIS_DOWN as exc:  # rq's loop has no retry of its own: start it again once Redis answers
                if time.monotonic() - started > 60:
                    wait = 0.5
                logger.warning("jobs_cron: Redis does not answer (%s); starting again in %.1f s", exc, wait)
                time.sleep(wait)
                wait = min(wait * 2, REDIS_RETRY_MAX_WAIT)
