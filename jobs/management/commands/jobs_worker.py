"""Run one rq worker with this app's hooks (history, dead-worker timing) on the given queues."""

from __future__ import annotations

import redis
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from jobs.conf import setting
from jobs.queues import queue_get
from jobs.worker import JobsSimpleWorker, JobsWorker, until_redis_answers


class Command(BaseCommand):
    help = (
        "Run an rq worker with the jobs app's hooks. Give it ONE queue for rq's reliable BLMOVE dequeue "
        "(the topology run_site uses: one worker per queue)."
    )

    def add_arguments(self, parser):
        parser.add_argument("queues", nargs="*", help="queues to work on (default: JOBS_QUEUES)")
        parser.add_argument("--simple", action="store_true", help="non-forking SimpleWorker (faster; no stop)")
        parser.add_argument("--burst", action="store_true", help="quit when the queues are empty")
        parser.add_argument("--with-scheduler", action="store_true", help="also move due delayed/retry jobs")
        parser.add_argument("--name", default=None)
        parser.add_argument("--max-jobs", type=int, default=None)
        parser.add_argument("--heartbeat-grace", type=int, default=None, help="seconds (JOBS_HEARTBEAT_GRACE)")
        parser.add_argument("--monitoring-interval", type=int, default=None, help="seconds (JOBS_MONITORING_INTERVAL)")
        parser.add_argument(
            "--maintenance-interval", type=int, default=None, help="seconds (JOBS_MAINTENANCE_INTERVAL)"
        )

    def handle(self, *args, queues, simple, burst, with_scheduler, name, max_jobs, **options):

        names = queues or setting("JOBS_QUEUES")
        try:
            rq_queues = [queue_get(name=q) for q in names]
        except KeyError as exc:
            raise CommandError(f"Unknown queue {exc}: use one of RQ_QUEUES ({', '.join(setting('JOBS_QUEUES'))}).")
        for option in ("heartbeat_grace", "monitoring_interval", "maintenance_interval", "max_jobs"):
            if options.get(option) is not None and options[option] < 0:
                raise CommandError(f"--{option.replace('_', '-')} must be 0 or more.")
        worker_class = JobsSimpleWorker if simple else JobsWorker
        level = {0: "WARNING", 1: "INFO"}.get(options["verbosity"], "DEBUG")
        connection = rq_queues[0].connection
        try:
            connection.ping()
        except redis.RedisError as exc:
            raise CommandError(f"Redis does not answer at REDIS_URL ({exc}); start it and retry.") from None
        while True:
            worker = worker_class(
                rq_queues,
                connection=connection,
                name=name,
                heartbeat_grace=options["heartbeat_grace"],
                job_monitoring_interval=options["monitoring_interval"],
                maintenance_interval=options["maintenance_interval"],
            )
            connections.close_all()  # the worker forks: no database socket may be shared with a child
            try:
                worker.work(burst=burst, with_scheduler=with_scheduler, max_jobs=max_jobs, logging_level=level)
                return
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                # JobsWorker waits out outages itself; this is the last line: never exit on one.
                self.stderr.write(f"Redis connection lost ({exc}); starting the worker again once it answers.")
                until_redis_answers("restarting the worker", connection.ping)
