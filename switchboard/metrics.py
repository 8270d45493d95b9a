"""Cheap time series for the operations page: per-minute counters in Redis, and what each app declares.

A counter is one Redis key per name and minute (``INCRBY`` + ``EXPIRE``, in the caller's pipeline when it
has one), kept ``RETENTION`` seconds; a series of the last hour is one ``MGET`` of 60 keys. Nothing scans a
history table to draw a rate. Counting never fails the work it counts: a Redis error is logged and dropped.

Each installed app declares what an operator wants to see by a method on its AppConfig, like
``health_checks``; this package names no app::

    def metrics(self) -> list[Callable[[], Metrics]]: ...
"""

from __future__ import annotations

import logging
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


def counter_add(
    name: str, amount: int = 1, *, pipeline: Any = None, connection: Any = None, at: float | None = None
) -> None:
    """Count ``amount`` events of ``name`` in this minute: in ``pipeline`` if given (the caller executes it),
    else in one round trip on ``connection`` (default: the process's Redis client)."""
    if amount <= 0:
        return
    key = _key(name, _minute(at))
    try:
        target = pipeline if pipeline is not None else (connection or redis_sync()).pipeline(transaction=False)
        target.incrby(key, amount)
        target.expire(key, RETENTION)
        if pipeline is None:
            target.execute()
    except RedisError as exc:
        logger.warning("Could not count %s: %s", name, exc)


def counter_series(names: Sequence[str], *, minutes: int = 60, at: float | None = None) -> dict[str, list[int]]:
    """Each counter's values in the last ``minutes`` minutes, oldest first (this minute last): one MGET."""
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
