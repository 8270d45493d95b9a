"""Redis clients built from REDIS_URL: one synchronous and one asyncio client per process (per event loop).

Every client the project makes goes through ``redis_options``, so one URL works everywhere whatever its
form: ``unix:///path.sock?db=N``, ``redis://[user:password@]host:port/N``, ``rediss://...`` (TLS).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any
from urllib.parse import urlparse

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

_lock = threading.Lock()
_sync_client: redis.Redis | None = None
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()


# Options only a TCP connection takes: redis-py refuses them for a unix socket (TypeError at connect).
TCP_ONLY_OPTIONS = frozenset({"socket_keepalive", "socket_keepalive_options", "socket_type"})
# What the project's own clients ask for; redis_options() drops what a URL's connection class does not take.
DEFAULT_OPTIONS: dict[str, Any] = {"socket_connect_timeout": 5, "socket_keepalive": True}


def redis_options(url: str, **options: Any) -> dict[str, Any]:
    """``options`` minus those the connection class of ``url``'s scheme does not take.

    unix:// takes neither the TCP socket options (``socket_keepalive``...) nor the TLS ones (``ssl_*``);
    redis:// does not take the TLS ones; rediss:// takes all.
    """
    scheme = urlparse(url).scheme
    kept = {}
    for name, value in options.items():
        if (name == "ssl" or name.startswith("ssl_")) and scheme != "rediss":
            continue
        if name in TCP_ONLY_OPTIONS and scheme == "unix":
            continue
        kept[name] = value
    return kept


def redis_client(url: str, **options: Any) -> redis.Redis:
    """A new synchronous client of ``url`` with DEFAULT_OPTIONS (overridden by ``options``) that its scheme takes."""
    return redis.Redis.from_url(url, **redis_options(url, **{**DEFAULT_OPTIONS, **options}))


def redis_async_client(url: str, **options: Any) -> aioredis.Redis:
    """A new asyncio client of ``url`` with DEFAULT_OPTIONS (overridden by ``options``) that its scheme takes."""
    return aioredis.Redis.from_url(url, **redis_options(url, **{**DEFAULT_OPTIONS, **options}))


def redis_url() -> str:
    """The Redis URL every app uses (settings.REDIS_URL)."""
    return settings.REDIS_URL


def redis_sync() -> redis.Redis:
    """The process-wide synchronous Redis client (thread-safe connection pool)."""
    global _sync_client
    if _sync_client is None:
        with _lock:
            if _sync_client is None:
                _sync_client = redis_client(redis_url(), health_check_interval=30)
    return _sync_client


def redis_async() -> aioredis.Redis:
    """The asyncio Redis client of the running event loop (one pool per loop)."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = redis_async_client(redis_url())
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
