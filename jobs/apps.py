from collections.abc import Mapping
from typing import Any

from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from jobs.checks import check_settings

        checks.register(check_settings, "jobs")

    def health_checks(self) -> list:
        """The jobs checks /health and `manage.py health` run: workers per queue, the scheduler, flush lag."""
        from jobs.health import health_checks

        return health_checks()

    def background_processes(
        self, *, python: str, manage: str, options: Mapping[str, Any]
    ) -> list[tuple[str, list[str]]]:
        """The processes run_site keeps running for jobs: ``rq_workers`` worker pools per queue, and rqcron."""
        from jobs.conf import setting

        # Worker topology (see README "Jobs"): per queue, jobs_worker's default, a pool of
        # JOBS_WORKER_PROCESSES long-lived work processes (jobs.pool), each on that one queue, so each
        # uses rq's reliable BLMOVE dequeue (a job is never only in a dying process's memory); the pool
        # runs the scheduler for its queue (delays, retry backoff); rqcron enqueues JOBS_PERIODIC.
        workers = [
            (f"worker-{queue}-{n}", [python, manage, "jobs_worker", queue, "--with-scheduler"])
            for queue in setting("JOBS_WORKER_QUEUES")
            for n in range(1, options.get("rq_workers", 1) + 1)
        ]
        return [*workers, ("cron", [python, manage, "rqcron", "jobs.cron"])]
