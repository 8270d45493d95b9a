"""Redis clients built from REDIS_URL: one synchronous and one asyncio client per process (per event loop).

Every client the project makes goes through ``redis_options``, so one URL works everywhere whatever its
form: ``unix:///path.sock?db=N``, ``redis://[user:password@]host:port/N``, ``rediss://...`` (TLS), or
Redis Sentinel: ``redis+sentinel://[[user:]password@]host1:26379,host2:26379/service/N[?sentinel_password=...]``
(the clients ask the sentinels for the current master of ``service`` and follow a failover; the userinfo
password is the master's, ``sentinel_password`` the sentinels' own if they require one).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as aiosentinel
import redis.sentinel
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


SENTINEL_SCHEME = "redis+sentinel"


@dataclass(frozen=True)
class SentinelURL:
    """A parsed ``redis+sentinel://`` URL."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None


def is_sentinel_url(url: str) -> bool:
    return urlparse(url).scheme == SENTINEL_SCHEME


def sentinel_url_parse(url: str) -> SentinelURL:
    """``redis+sentinel://[[user:]password@]host1:port1,host2:port2/service[/db][?sentinel_password=...]``.

    Raises ValueError with what is wrong (settings turn it into a ConfigError).
    """
    parsed = urlparse(url)
    if parsed.scheme != SENTINEL_SCHEME:
        raise ValueError(f"not a {SENTINEL_SCHEME}:// URL")
    userinfo, _, hostlist = parsed.netloc.rpartition("@")
    username = password = None
    if userinfo:
        user, colon, secret = userinfo.partition(":")
        username, password = (unquote(user) or None, unquote(secret)) if colon else (None, unquote(user))
    sentinels = []
    for item in hostlist.split(","):
        host, colon, port = item.strip().rpartition(":")
        if not colon:
            host, port = item.strip(), "26379"
        host = host.strip("[]")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"bad sentinel address {item!r}: use host:26379")
        sentinels.append((host, int(port)))
    parts = [part for part in parsed.path.split("/") if part]
    if not parts or len(parts) > 2:
        raise ValueError("name the master's service: redis+sentinel://host:26379/mymaster/0")
    if len(parts) == 2 and not parts[1].isdigit():
        raise ValueError(f"bad database number {parts[1]!r}: use /0 to /15")
    query = parse_qs(parsed.query)
    sentinel_password = query.get("sentinel_password", [None])[0]
    return SentinelURL(
        sentinels=tuple(sentinels),
        service=unquote(parts[0]),
        db=int(parts[1]) if len(parts) == 2 else 0,
        username=username,
        password=password,
        sentinel_password=sentinel_password,
    )


def _sentinel_kwargs(parsed: SentinelURL, options: dict[str, Any]) -> dict[str, Any]:
    """What the sentinel connections themselves take: their password and the connect timeout only."""
    kwargs: dict[str, Any] = {}
    if parsed.sentinel_password:
        kwargs["password"] = parsed.sentinel_password
    for name in ("socket_connect_timeout", "socket_timeout"):
        if name in options:
            kwargs[name] = options[name]
    return kwargs


def _master_kwargs(parsed: SentinelURL) -> dict[str, Any]:
    return {"db": parsed.db, "username": parsed.username, "password": parsed.password}


def redis_client(url: str, **options: Any) -> redis.Redis:
    """A new synchronous client of ``url`` with DEFAULT_OPTIONS (overridden by ``options``) that its scheme takes.

    For a Sentinel URL: a client of the service's current master (it asks the sentinels again after a failover).
    """
    options = redis_options(url, **{**DEFAULT_OPTIONS, **options})
    if is_sentinel_url(url):
        parsed = sentinel_url_parse(url)
        manager = redis.sentinel.Sentinel(list(parsed.sentinels), sentinel_kwargs=_sentinel_kwargs(parsed, options))
        return manager.master_for(parsed.service, **_master_kwargs(parsed), **options)
    return redis.Redis.from_url(url, **options)


def redis_async_client(url: str, **options: Any) -> aioredis.Redis:
    """A new asyncio client of ``url`` with DEFAULT_OPTIONS (overridden by ``options``) that its scheme takes."""
    options = redis_options(url, **{**DEFAULT_OPTIONS, **options})
    if is_sentinel_url(url):
        parsed = sentinel_url_parse(url)
        manager = aiosentinel.Sentinel(list(parsed.sentinels), sentinel_kwargs=_sentinel_kwargs(parsed, options))
        return manager.master_for(parsed.service, **_master_kwargs(parsed), **options)
    return aioredis.Redis.from_url(url, **options)


def rq_queue_config(url: str, **extra: Any) -> dict[str, Any]:
    """One django-rq RQ_QUEUES entry for ``url``: URL for a plain server, SENTINELS/MASTER_NAME for Sentinel."""
    if not is_sentinel_url(url):
        return {"URL": url, **extra}
    parsed = sentinel_url_parse(url)
    config: dict[str, Any] = {
        "SENTINELS": list(parsed.sentinels),
        "MASTER_NAME": parsed.service,
        "DB": parsed.db,
        "PASSWORD": parsed.password,
        "SENTINEL_KWARGS": _sentinel_kwargs(parsed, DEFAULT_OPTIONS),
        "CONNECTION_KWARGS": redis_options(url, **DEFAULT_OPTIONS),
        **extra,
    }
    if parsed.username:
        config["USERNAME"] = parsed.username
    return config


def cache_config(url: str, **extra_options: Any) -> dict[str, Any]:
    """The django-redis cache entry for ``url``: its SentinelClient and connection factory for Sentinel."""
    options: dict[str, Any] = {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        "SOCKET_CONNECT_TIMEOUT": 5,
        # Only the options url's connection class takes (no TCP keepalive on a unix socket).
        "CONNECTION_POOL_KWARGS": redis_options(url, socket_keepalive=True),
        **extra_options,
    }
    location = url
    if is_sentinel_url(url):
        parsed = sentinel_url_parse(url)
        auth = ""
        if parsed.password:
            auth = f"{parsed.username or ''}:{parsed.password}@"
        location = f"redis://{auth}{parsed.service}/{parsed.db}"
        options["CLIENT_CLASS"] = "django_redis.client.SentinelClient"
        options["CONNECTION_FACTORY"] = "django_redis.pool.SentinelConnectionFactory"
        options["SENTINELS"] = list(parsed.sentinels)
        options["SENTINEL_KWARGS"] = _sentinel_kwargs(parsed, {"socket_connect_timeout": 5})
    return {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location, **{"OPTIONS": options}}


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
