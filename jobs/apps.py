from collections.abc import Mapping
from typing import Any

from django.apps import AppConfig
from django.core import checks

from jobs.checks import check_settings
from jobs.conf import setting


class JobsConfig(AppConfig):
    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"
    # switchboard's checks refuse a site without REDIS_URL.
    needs_redis = True
    # What the site shows of this app (switchboard.registry).
    nav_label = "Jobs"
    nav_url = "jobs:index"
    blurb = "Background jobs on rq with live progress, retries and schedules."
    # Run by rqcron (jobs.cron), next to the other apps' periodic jobs.
    periodic_tasks = [
        {"name": "runs_prune", "func": "jobs.builtin.runs_prune", "interval": 3600, "queue": "system", "timeout": 300},
        # Durable enqueue: runs the database holds as queued that rq lost are pushed again.
        {
            "name": "runs_reconcile",
            "func": "jobs.builtin.runs_reconcile",
            "interval": 60,
            "queue": "system",
            "timeout": 300,
        },
    ]

    def ready(self) -> None:
        checks.register(check_settings, "jobs")

    def health_checks(self) -> list:
        """The jobs checks /health and `manage.py health` run: workers per queue, the scheduler, flush lag."""
        # Imported here: jobs.health imports the app's models, which load only once the app registry is ready.
        from jobs.health import health_checks

        return health_checks()

    def metrics(self) -> list:
        """The jobs section of the operations page: queue depths, workers, running jobs, rates per minute."""
        # Imported here: jobs.metrics reads the app's settings and queues, used once the app registry is ready.
        from jobs.metrics import jobs_metrics

        return [jobs_metrics]

    def background_processes(
        self, *, python: str, manage: str, options: Mapping[str, Any]
    ) -> list[tuple[str, list[str]]]:
        """The processes run_site keeps running for jobs: ``rq_workers`` worker pools per queue, and jobs_cron."""
        # Worker topology (see docs/jobs.md): per queue, jobs_worker's default, a pool of
        # JOBS_WORKER_PROCESSES long-lived work processes (jobs.pool), each on that one queue, so each
        # uses rq's reliable BLMOVE dequeue (a job is never only in a dying process's memory); the pool
        # runs the scheduler for its queue (delays, retry backoff); jobs_cron (rq's cron scheduler, waiting out Redis
        # outages) enqueues the periodic tasks (jobs.cron).
        workers = [
            (f"worker-{queue}-{n}", [python, manage, "jobs_worker", queue, "--with-scheduler"])
            for queue in setting("JOBS_WORKER_QUEUES")
            for n in range(1, options.get("rq_workers", 1) + 1)
        ]
        return [*workers, ("cron", [python, manage, "jobs_cron"])]
