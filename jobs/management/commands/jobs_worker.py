"""Run the jobs app's worker on the given queues: a pool of long-lived work processes (default), one
non-forking worker (--simple) or rq's forking worker (--fork)."""

from __future__ import annotations

import logging

import redis
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connections

from jobs.conf import setting
from jobs.outage import until_redis_answers
from jobs.pool import WorkerPool
from jobs.push import runs_reconcile
from jobs.queues import queue_get
from jobs.worker import JobsSimpleWorker, JobsWorker

logger = logging.getLogger(__name__)


def reconcile_at_start() -> None:
    """Push again the runs a Redis that restarted or failed over lost (durable enqueue), before working."""
    try:
        pushed = runs_reconcile()
    except (redis.RedisError, DatabaseError) as exc:
        logger.warning("jobs_worker: the reconcile check at start failed (%s); the periodic one will retry", exc)
        return
    if pushed:
        logger.warning("jobs_worker: pushed again %d run(s) rq had lost: %s", len(pushed), ", ".join(pushed))


class Command(BaseCommand):
    help = (
        "Run the jobs app's worker: by default a supervisor and a pool of long-lived work processes that each "
        "run many jobs (stop, timeouts and crashes handled by the supervisor). Give it ONE queue for rq's "
        "reliable BLMOVE dequeue (the topology run_site uses: one pool per queue)."
    )

    def add_arguments(self, parser):
        parser.add_argument("queues", nargs="*", help="queues to work on (default: JOBS_QUEUES)")
        kind = parser.add_mutually_exclusive_group()
        kind.add_argument("--simple", action="store_true", help="one non-forking worker (no stop, no crash guard)")
        kind.add_argument("--fork", action="store_true", help="one rq forking worker (a process per job; slow)")
        parser.add_argument(
            "--processes", type=int, default=None, help="work processes of the pool (JOBS_WORKER_PROCESSES: cores)"
        )
        parser.add_argument("--max-memory", type=int, default=None, help="MB; pool (JOBS_WORKER_MAX_MEMORY_MB)")
        parser.add_argument("--kill-grace", type=int, default=None, help="seconds; pool (JOBS_WORKER_KILL_GRACE)")
        parser.add_argument("--burst", action="store_true", help="quit when the queues are empty")
        parser.add_argument("--with-scheduler", action="store_true", help="also move due delayed/retry jobs")
        parser.add_argument("--name", default=None)
        parser.add_argument(
            "--max-jobs", type=int, default=None, help="jobs per process, then it is replaced (JOBS_WORKER_MAX_JOBS)"
        )
        parser.add_argument("--heartbeat-grace", type=int, default=None, help="seconds (JOBS_HEARTBEAT_GRACE)")
        parser.add_argument("--monitoring-interval", type=int, default=None, help="seconds (JOBS_MONITORING_INTERVAL)")
        parser.add_argument(
            "--maintenance-interval", type=int, default=None, help="seconds (JOBS_MAINTENANCE_INTERVAL)"
        )

    def handle(self, *args, queues, simple, fork, burst, with_scheduler, name, max_jobs, **options):

        names = queues or setting("JOBS_QUEUES")
        try:
            rq_queues = [queue_get(name=q) for q in names]
        except KeyError as exc:
            raise CommandError(f"Unknown queue {exc}: use one of RQ_QUEUES ({', '.join(setting('JOBS_QUEUES'))}).")
        for option in ("heartbeat_grace", "monitoring_interval", "maintenance_interval", "max_jobs", "max_memory",
                       "kill_grace"):  # fmt: skip
            if options.get(option) is not None and options[option] < 0:
                raise CommandError(f"--{option.replace('_', '-')} must be 0 or more.")
        if options["processes"] is not None and (options["processes"] < 1 or simple or fork):
            raise CommandError("--processes must be 1 or more, and only for the pool (not with --simple or --fork).")
        worker_class = JobsSimpleWorker if simple else JobsWorker
        level = {0: "WARNING", 1: "INFO"}.get(options["verbosity"], "DEBUG")
        connection = rq_queues[0].connection
        try:
            connection.ping()
        except redis.RedisError as exc:
            raise CommandError(f"Redis does not answer at REDIS_URL ({exc}); start it and retry.") from None
        reconcile_at_start()
        timing = {
            "heartbeat_grace": options["heartbeat_grace"],
            "job_monitoring_interval": options["monitoring_interval"],
            "maintenance_interval": options["maintenance_interval"],
        }
        if not (simple or fork):
            WorkerPool(
                rq_queues,
                connection=connection,
                size=options["processes"],
                name=name,
                max_jobs=max_jobs,
                max_memory_mb=options["max_memory"],
                kill_grace=options["kill_grace"],
                burst=burst,
                with_scheduler=with_scheduler,
                logging_level=level,
                worker_kwargs=timing,
            ).run()
            return
        while True:
            worker = worker_class(
                rq_queues,
                connection=connection,
                name=name,
                **timing,
            )
            connections.close_all()  # the worker forks: no database socket may be shared with a child
            try:
                worker.work(burst=burst, with_scheduler=with_scheduler, max_jobs=max_jobs, logging_level=level)
                return
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                # JobsWorker waits out outages itself; this is the last line: never exit on one.
                self.stderr.write(f"Redis connection lost ({exc}); starting the worker again once it answers.")
                until_redis_answers("restarting the worker", connection.ping)
