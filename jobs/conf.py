"""Jobs settings with defaults, read when used: setting("JOBS_...")."""

from typing import Any

from switchboard.conf import AppSettings

DEFAULTS: dict[str, Any] = {
    # The catalog: dotted paths of JobSpec objects a user may start from the UI or jobs_enqueue.
    "JOBS_CATALOG": ["jobs.builtin.RUNS_PRUNE"],
    # True adds the demo jobs (countdown, fail, slow, flaky, noop: jobs.builtin.DEMO_CATALOG) before them.
    "JOBS_DEMO_JOBS": False,
    # Periodic jobs for `jobs_cron` besides those the installed apps declare (AppConfig.periodic_tasks):
    # a catalog job's name, then `interval` (seconds) or `cron` (crontab).
    "JOBS_PERIODIC": [],
    # Worker topology run_site starts (JobsConfig.background_processes): one worker per queue, each with
    # the scheduler (see docs/jobs.md).
    # "system" holds the site's periodic tasks (jobs' runs_prune, the ledger's resolve) with a worker of its
    # own, so user jobs never delay them (jobs.catalog.SYSTEM_QUEUE).
    "JOBS_WORKER_QUEUES": ["high", "default", "low", "system"],
    "JOBS_QUEUES": ["high", "default", "low", "system"],
    # The default worker (jobs.pool): per queue, a supervisor and this many long-lived work processes
    # (None: the machine's cores); each leaves after MAX_JOBS jobs or once over MAX_MEMORY_MB (0: never)
    # and is replaced; a job past its timeout + KILL_GRACE seconds has its process killed.
    "JOBS_WORKER_PROCESSES": None,
    "JOBS_WORKER_MAX_JOBS": 10000,
    "JOBS_WORKER_MAX_MEMORY_MB": 500,
    "JOBS_WORKER_KILL_GRACE": 5,
    # Dead-worker detection: an execution whose heartbeat is older than monitoring interval + grace
    # is abandoned; a worker's maintenance pass (every JOBS_MAINTENANCE_INTERVAL s) retries or fails it.
    "JOBS_MONITORING_INTERVAL": 10,
    "JOBS_HEARTBEAT_GRACE": 20,
    "JOBS_MAINTENANCE_INTERVAL": 30,
    # A job a dead worker left in rq's intermediate list (dequeued, never started) goes back on its queue
    # when a maintenance pass sees it there again at least this many seconds after the first one did.
    "JOBS_INTERMEDIATE_GRACE": 5,
    # Seconds a worker's scheduler holds a queue's lock without refreshing it (every 1 s): after the
    # holder dies, another --with-scheduler worker schedules that queue's delayed jobs within about this.
    "JOBS_SCHEDULER_LOCK_TTL": 5,
    "JOBS_RESULT_TTL": 24 * 3600,
    "JOBS_FAILURE_TTL": 7 * 24 * 3600,
    "JOBS_HISTORY_DAYS": 30,
    "JOBS_MAX_DELAY": 30 * 24 * 3600,
    "JOBS_PAGE_SIZE": 50,
    # The pages' context providers (dotted paths; the site-wide providers come first).
    "JOBS_INDEX_PROVIDERS": ["jobs.context.job_catalog", "jobs.context.recent_runs"],
    "JOBS_RUN_PROVIDERS": ["jobs.context.run_detail"],
    # Per-user enqueue limit over HTTP (switchboard.limits): at most RATE enqueues per WINDOW seconds.
    "JOBS_ENQUEUE_RATE": 60,
    "JOBS_ENQUEUE_RATE_WINDOW": 60,
    # Per-user cancel/stop/requeue limit over HTTP, as for enqueues.
    "JOBS_ACTION_RATE": 60,
    "JOBS_ACTION_RATE_WINDOW": 60,
    # At most this many queued, scheduled, started or retrying runs per user (429 beyond, over HTTP);
    # staff have JOBS_STAFF_MAX_ACTIVE (None: no limit).
    "JOBS_USER_MAX_ACTIVE": 3,
    "JOBS_STAFF_MAX_ACTIVE": None,
    "JOBS_BOARD_PREFIX": "job-",
    # Run history is written behind: events wait in a Redis list, workers apply them every interval.
    "JOBS_HISTORY_KEY": "jobs:history",
    "JOBS_HISTORY_FLUSH_INTERVAL": 0.5,
    # Durable enqueue: job_enqueue writes the JobRun row in the caller's transaction and pushes the job to rq
    # on commit; runs_reconcile pushes again runs queued in the database for JOBS_RECONCILE_GRACE seconds
    # that rq does not know (a Redis that lost them).
    "JOBS_DURABLE_ENQUEUE": True,
    "JOBS_RECONCILE_GRACE": 60,
    # /health reports unhealthy when the oldest history event not yet applied is older than this (seconds).
    "JOBS_HEALTH_MAX_FLUSH_LAG": 60,
}

# setting(name): the host's value, else the default above (cached until a setting changes).
setting = AppSettings(DEFAULTS)
