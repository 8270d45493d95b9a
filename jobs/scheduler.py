"""rq's scheduler with a short lock, so another worker takes over within seconds when its holder dies.

rq 2.12's RQScheduler holds ``rq:scheduler-lock:<queue>`` for its interval + 60 s, and a worker whose
scheduler did not get the lock tries again only at its maintenance pass: after a SIGKILL of the holder,
delayed jobs and retry backoffs on that queue waited up to ~61 s. JobsScheduler refreshes its locks every
``interval`` (1 s) with a TTL of JOBS_SCHEDULER_LOCK_TTL (5 s), and every worker started with
``--with-scheduler`` keeps its scheduler process running, trying to take each missing lock every
interval. A dead holder's queue is scheduled again within about TTL + 1 s.

Trade-off: a live scheduler stalled for longer than the TTL (a frozen process, a Redis outage longer
than the TTL) can lose its lock to another one while it enqueues; rq's enqueue of due jobs is not atomic,
so a due job may then be enqueued twice. A Redis outage is survived: the process waits and carries on.
"""

from __future__ import annotations

import os
import time
from datetime import datetime

import redis
from rq.scheduler import RQScheduler
from rq.scripts import ACQUIRE_OR_REFRESH_LOCK_SCRIPT, acquire_or_refresh_lock
from rq.utils import now, utcformat

from jobs.conf import setting

REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)


class JobsScheduler(RQScheduler):
    """An RQScheduler whose locks expire after ``lock_ttl`` seconds and which polls for missing locks."""

    def __init__(self, *args, lock_ttl: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lock_ttl = int(lock_ttl or setting("JOBS_SCHEDULER_LOCK_TTL"))
        self._worker_pid = 0

    def start(self):
        """Fork the scheduler process; it stops by itself when its worker is gone (even SIGKILLed)."""
        self._worker_pid = os.getpid()
        return super().start()

    @property
    def should_reacquire_locks(self) -> bool:
        """Try to take a missing lock every interval (rq waits 120 s)."""
        if self._queue_names == self.acquired_locks:
            return False
        if not self.lock_acquisition_time:
            return True
        return (datetime.now() - self.lock_acquisition_time).total_seconds() >= self.interval

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        """Acquire or refresh our locks (TTL ``lock_ttl``); ``auto_start`` starts the process even without any."""
        owned = set()
        for name in self._queue_names:
            outcome = acquire_or_refresh_lock(self.connection, self.get_locking_key(name), self.name, self.lock_ttl)
            if outcome in ("acquired", "refreshed"):
                if outcome == "acquired":
                    self.log.info("Acquired scheduler lock for %s", name)
                owned.add(name)
        self._scheduled_job_registries = []
        self._acquired_locks = owned
        self.lock_acquisition_time = datetime.now()
        if auto_start and (not self._process or not self._process.is_alive()):
            self.start()
        return owned

    def heartbeat(self) -> None:
        """Refresh our metadata and locks; drop the locks another scheduler took after ours expired."""
        self.last_heartbeat = now()
        names = sorted(self._acquired_locks)
        script = self.connection.register_script(ACQUIRE_OR_REFRESH_LOCK_SCRIPT)
        with self.connection.pipeline() as pipeline:
            pipeline.hset(self.key, "last_heartbeat", utcformat(self.last_heartbeat))
            pipeline.expire(self.key, self.interval + 60)
            for name in names:
                script(keys=[self.get_locking_key(name)], args=[self.name, self.lock_ttl], client=pipeline)
            results = pipeline.execute()
        lost = {name for name, outcome in zip(names, results[2:], strict=True) if outcome == 0}
        if lost:
            self.log.warning("Scheduler locks for %s were taken over by another scheduler", ", ".join(sorted(lost)))
            self._acquired_locks -= lost
            self._scheduled_job_registries = []

    def work(self) -> None:
        """rq's loop (refresh or take locks, enqueue due jobs, sleep), waiting out Redis outages."""
        self._install_signal_handlers()
        backoff = 0.5
        registered = False
        while True:
            if self._worker_pid and os.getppid() != self._worker_pid:
                self.log.warning("Scheduler: its worker is gone; stopping")
                self._stop_requested = True
            if self._stop_requested:
                try:
                    self.stop()
                except REDIS_DOWN:
                    pass  # the locks expire by themselves
                return
            try:
                if not registered:
                    self.register_birth()
                    registered = True
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
                backoff = 0.5
            except REDIS_DOWN as exc:
                self.log.warning("Scheduler: Redis does not answer (%s); retrying in %.1f s", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            time.sleep(self.interval)
