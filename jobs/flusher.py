"""The history flusher: a child process of every worker that applies the run history events."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import redis
from django.db import close_old_connections, connections

from jobs.history import history_flush_all

logger = logging.getLogger(__name__)

NICENESS = 5  # added to the worker's; a CFS weight of about a third of a process at the worker's


class HistoryFlusher:
    """A child process that applies the run history events (jobs.history) every ``interval`` seconds.

    A process, not a thread: the flush's JSON and SQL work then runs on another core instead of taking
    the GIL from the worker. It leaves when asked (SIGTERM) or when its worker is gone.
    """

    def __init__(self, connection: redis.Redis, interval: float) -> None:
        pool = connection.connection_pool
        self.pool_class, self.pool_kwargs = (
            type(pool),
            {"connection_class": pool.connection_class, **pool.connection_kwargs},
        )
        self.interval = interval
        self.pid = 0

    def connection(self) -> redis.Redis:
        return redis.Redis(connection_pool=self.pool_class(**self.pool_kwargs))

    def flush(self, connection: redis.Redis) -> None:
        try:
            history_flush_all(connection=connection)
        except Exception:
            logger.exception("jobs: history flush failed; the events stay in Redis and are retried")
        finally:
            close_old_connections()

    def start(self) -> HistoryFlusher:
        connections.close_all()  # no database socket may be shared with the child
        pid = os.fork()
        if pid == 0:
            try:
                self._run_child()
            finally:
                os._exit(0)
        self.pid = pid
        return self

    def _run_child(self) -> None:
        # Jobs first: under CPU contention the flusher yields to the worker's processes; events wait in
        # Redis meanwhile (pages apply what is pending before they read), and it catches up when CPU frees.
        os.nice(NICENESS)
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the worker, which stops us
        parent = os.getppid()
        connection = self.connection()
        while not stopping.wait(self.interval) and os.getppid() == parent:
            self.flush(connection)
        connections.close_all()

    def stop(self) -> None:
        """Stop the child, then flush what is left from this process."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
                deadline = time.monotonic() + 10
                while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                    if time.monotonic() > deadline:
                        os.kill(self.pid, signal.SIGKILL)
                        os.waitpid(self.pid, 0)
                        break
                    time.sleep(0.02)
            except ChildProcessError:
                pass
            self.pid = 0
        self.flush(self.connection())
        connections.close_all()
