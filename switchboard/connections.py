"""One synchronous and one asyncio Redis client per process (per event loop), built from REDIS_URL."""

from __future__ import annotations

import asyncio
import threading
import weakref

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_lock = threading.Lock()
_sync_client: redis.Redis | None = None
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()


def redis_url() -> str:
    """The Redis URL every app uses (settings.REDIS_URL)."""
    return settings.REDIS_URL


def redis_sync() -> redis.Redis:
    """The process-wide synchronous Redis client (thread-safe connection pool)."""
    global _sync_client
    if _sync_client is None:
        with _lock:
            if _sync_client is None:
                _sync_client = redis.Redis.from_url(redis_url(), socket_connect_timeout=5, health_check_interval=30)
    return _sync_client


def redis_async() -> aioredis.Redis:
    """The asyncio Redis client of the running event loop (one pool per loop)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(redis_url(), socket_connect_timeout=5)
        _async_clients[loop] = client
    return client


def reset_connections() -> None:
    """Forget the cached clients (after REDIS_URL changes, or in a forked child)."""
    global _sync_client
    with _lock:
        if _sync_client is not None:
            _sync_client.close()
        _sync_client = None
        _async_clients.clear()


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs) -> None:
    if setting == "REDIS_URL":
        reset_connections()
        from switchboard.hub import reset_hubs

        reset_hubs()
