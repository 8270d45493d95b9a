"""Health checks for operators and load balancers: ``GET /health`` (JSON, 200 or 503) and ``manage.py health``.

The shared checks are here (the database, Redis, this process's subscription hub); each installed app
adds its own by defining a method on its AppConfig, the way it declares its background processes::

    def health_checks(self) -> list[Callable[[], Check]]: ...

A check is a plain callable returning a ``Check``; one that raises is reported as failed with the error,
so a broken check never hides the others. The site mounts the view: ``path("health", health_view)``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.apps import apps
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError

from switchboard.connections import redis_sync
from switchboard.hub import get_hub

logger = logging.getLogger(__name__)

# How long the hub check waits for the pub/sub connection (it starts it when no waiter did yet).
HUB_WAIT = 2.0


@dataclass(frozen=True)
class Check:
    """One check's outcome: a name, healthy or not, and what an operator wants to read about it."""

    name: str
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.detail}


def check_database() -> Check:
    """Every configured database answers a trivial query."""
    detail: dict[str, Any] = {}
    ok = True
    for alias in connections:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
            detail[alias] = "ok"
        except Exception as exc:  # any driver error means "not reachable"
            ok = False
            detail[alias] = f"{type(exc).__name__}: {exc}"
        finally:
            connections[alias].close()
    return Check("database", ok, detail)


def check_redis() -> Check:
    """Redis (REDIS_URL) answers PING; reports the round trip in milliseconds."""
    started = time.perf_counter()
    try:
        redis_sync().ping()
    except RedisError as exc:
        return Check("redis", False, {"error": f"{type(exc).__name__}: {exc}"})
    return Check("redis", True, {"ping_ms": round((time.perf_counter() - started) * 1000, 2)})


async def check_hub() -> Check:
    """This process's subscription hub is connected: its channels, waiters and reconnects since start."""
    hub = get_hub()
    await hub.wait_connected(HUB_WAIT)
    stats = hub.stats()
    return Check("hub", bool(stats["connected"]), stats)


def app_health_checks() -> list[Callable[[], Check]]:
    """The checks the installed apps declare (AppConfig.health_checks), in INSTALLED_APPS order."""
    checks: list[Callable[[], Check]] = []
    for config in apps.get_app_configs():
        hook = getattr(config, "health_checks", None)
        if hook is not None:
            checks.extend(hook())
    return checks


def check_name(check: Callable[[], Check]) -> str:
    """The name a check reports under: ``<app>_<name without check_>`` (notes.health.check_lag: notes_lag)."""
    module = getattr(check, "__module__", "") or ""
    name = getattr(check, "__name__", "check").removeprefix("check_")
    return f"{module.split('.')[0]}_{name}" if module and not module.startswith("switchboard") else name


def _run(check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:  # a failing check is a finding, not a crash of the health view
        return Check(check_name(check), False, {"error": f"{type(exc).__name__}: {exc}"})


def _sync_checks() -> list[Check]:
    return [_run(check) for check in (check_database, check_redis, *app_health_checks())]


def report(results: list[Check]) -> dict[str, Any]:
    """The JSON document: ``{"healthy": bool, "checks": {name: {"ok": bool, ...}}}``."""
    return {"healthy": all(r.ok for r in results), "checks": {r.name: r.as_dict() for r in results}}


async def health_report() -> dict[str, Any]:
    """Run every check (the synchronous ones in a thread, the hub's in this event loop)."""
    sync_results, hub = await asyncio.gather(sync_to_async(_sync_checks)(), check_hub())
    return report([*sync_results[:2], hub, *sync_results[2:]])


@csrf_exempt  # read-only: other methods only get a 405
async def health_view(request: HttpRequest) -> JsonResponse:
    """``GET /health``: the report as JSON, status 200 when every check passes, else 503."""
    if request.method not in ("GET", "HEAD"):
        return JsonResponse({"error": "method_not_allowed", "message": "Use GET."}, status=405)
    data = await health_report()
    response = JsonResponse(data, status=200 if data["healthy"] else 503, headers={"Cache-Control": "no-store"})
    _log_change(sorted(name for name, check in data["checks"].items() if not check["ok"]))
    # A 503 here is an answer, not a server error: Django would log one ERROR per probe of the load balancer.
    response._has_been_logged = True  # what django.utils.log.log_response checks
    return response


_last_failing: list[str] = []


def _log_change(failing: list[str]) -> None:
    """Log when the set of failing checks changes (a WARNING), not on every probe."""
    global _last_failing
    if failing != _last_failing:
        if failing:
            logger.warning("Health: failing checks: %s", ", ".join(failing))
        else:
            logger.info("Health: every check passes again")
        _last_failing = failing
