"""Cheap time series for the operations page: per-minute counters in Redis, and what each app declares.

A counter is one Redis key per name and minute (``INCRBY`` + ``EXPIRE``, in the caller's pipeline when it
has one), kept ``RETENTION`` seconds; a series of the last hour is one ``MGET`` of 60 keys. Nothing scans a
history table to draw a rate. Counting never fails the work it counts: a Redis error is logged and dropped.

Without a pipeline or a connection of the caller's, counts are added up in the process and written at most
``FLUSH_AFTER`` seconds later, all in one pipeline (by a timer thread, by ``counter_series`` in this process
before it reads, and at exit, once a write under way has ended): a count must not cost the work it counts a
Redis round trip (it was a sixth of the time of a small database write, measured). A process that ends
without running its exit handlers (``os._exit``, as a forked work horse does) calls ``counter_flush_final``
first, or loses what it had not written.

Each installed app declares what an operator wants to see by a method on its AppConfig, like
``health_checks``; this package names no app::

    def metrics(self) -> list[Callable[[], Metrics]]: ...
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from redis.exceptions import RedisError

from switchboard.connections import redis_sync

logger = logging.getLogger(__name__)

PREFIX = "switchboard:rate"
RETENTION = 2 * 3600  # seconds a minute's counter is kept: the page shows the last hour


def _minute(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // 60)


def _key(name: str, minute: int) -> str:
    return f"{PREFIX}:{name}:{minute}"


FLUSH_AFTER = 1.0  # seconds a count of the process's own may wait before it is written
EXIT_WAIT = 5.0  # seconds a process that ends waits for a write under way
FLUSHER = "switchboard.metrics flush"  # the timer thread's name

_pending: dict[str, int] = {}  # key -> amount not yet written
_lock = threading.Lock()
_timer: threading.Timer | None = None


def counter_add(
    name: str, amount: int = 1, *, pipeline: Any = None, connection: Any = None, at: float | None = None
) -> None:
    """Count ``amount`` events of ``name`` in this minute: in ``pipeline`` if given (the caller executes it),
    in one round trip on ``connection`` if given, else on the process's Redis client within FLUSH_AFTER."""
    global _timer
    if amount <= 0:
        return
    key = _key(name, _minute(at))
    if pipeline is None and connection is None:
        with _lock:
            _pending[key] = _pending.get(key, 0) + amount
            if _timer is None:
                _timer = threading.Timer(FLUSH_AFTER, counter_flush)
                _timer.daemon, _timer.name = True, FLUSHER
                _timer.start()
        return
    try:
        target = pipeline if pipeline is not None else connection.pipeline(transaction=False)
        target.incrby(key, amount)
        target.expire(key, RETENTION)
        if pipeline is None:
            target.execute()
    except RedisError as exc:
        logger.warning("Could not count %s: %s", name, exc)


def counter_flush() -> None:
    """Write the counts this process has added up, in one pipeline (nothing to do: no round trip)."""
    global _timer
    with _lock:
        pending, timer = dict(_pending), _timer
        _pending.clear()
        _timer = None
    if timer is not None and timer is not threading.current_thread():
        timer.cancel()
    if not pending:
        return
    try:
        pipe = redis_sync().pipeline(transaction=False)
        for key, amount in pending.items():
            pipe.incrby(key, amount)
            pipe.expire(key, RETENTION)
        pipe.execute()
    except RedisError as exc:
        logger.warning("Could not count %s: %s", ", ".join(pending), exc)


def _forget_in_child() -> None:
    """A forked child starts with no counts of its own (its parent writes those) and no timer."""
    global _lock, _timer
    _lock, _timer = threading.Lock(), None
    _pending.clear()


def counter_flush_final() -> None:
    """Before the process ends (at exit, or before ``os._exit``): wait for a write the timer has under way, then
    write the rest. The interpreter stops a daemon thread
    where it stands once it starts finalizing: a flush cut there lost its counts and could leave the Redis
    client's pool lock held, which hung the process in the client's finalizer (seen in CI)."""
    for thread in threading.enumerate():
        if thread.name == FLUSHER and thread is not threading.current_thread():
            thread.cancel()  # one not yet due ends at once; one writing finishes first
            thread.join(EXIT_WAIT)
    counter_flush()


atexit.register(counter_flush_final)
os.register_at_fork(after_in_child=_forget_in_child)


def counter_series(names: Sequence[str], *, minutes: int = 60, at: float | None = None) -> dict[str, list[int]]:
    """Each counter's values in the last ``minutes`` minutes, oldest first (this minute last): one MGET."""
    counter_flush()  # this process's own counts first
    now = _minute(at)
    keys = [_key(name, minute) for name in names for minute in range(now - minutes + 1, now + 1)]
    if not keys:
        return {}
    values = redis_sync().mget(keys)
    return {name: [int(v or 0) for v in values[i * minutes : (i + 1) * minutes]] for i, name in enumerate(names)}


@dataclass
class Metrics:
    """One app's section of the operations page.

    ``numbers``: label -> value (shown as is); ``rates``: label -> counter name (plotted per minute over the
    last hour); ``tables``: title -> list of rows (dicts with the same keys, shown as a table).
    """

    title: str
    numbers: dict[str, Any] = field(default_factory=dict)
    rates: dict[str, str] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def app_metrics() -> list[Callable[[], Metrics]]:
    """The metrics the installed apps declare (AppConfig.metrics), in INSTALLED_APPS order."""
    found: list[Callable[[], Metrics]] = []
    for config in apps.get_app_configs():
        hook = getattr(config, "metrics", None)
        if callable(hook):
            found.extend(hook())
    return found


def metrics_collect() -> list[Metrics]:
    """Every declared section, with its rates' series read in one MGET; a failing section says so."""
    sections: list[Metrics] = []
    for collect in app_metrics():
        try:
            sections.append(collect())
        except Exception as exc:  # one broken section never hides the others
            logger.exception("Metrics %r failed", collect)
            sections.append(Metrics(title=getattr(collect, "__name__", "metrics"), numbers={"error": str(exc)}))
    return sections


def hub_metrics() -> Metrics:
    """This process's subscription hubs (one per event loop; none in a process that serves no live page)."""
    from switchboard import hub  # read only: asking never starts a hub

    stats = [h.stats() for h in list(hub._hubs.values())]
    return Metrics(
        title="Hub (this process)",
        numbers={
            "hubs": len(stats),
            "connected": sum(1 for s in stats if s["connected"]),
            "channels": sum(int(s["channels"]) for s in stats),
            "waiters": sum(int(s["waiters"]) for s in stats),
            "reconnects": sum(int(s["reconnects"]) for s in stats),
        },
    )
