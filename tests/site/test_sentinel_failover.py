"""Every client follows a Sentinel failover: SIGKILL the master, the sentinels promote the replica, and the
hub (it sends GAP and receives again), redis_sync, rq, the cache and the rate limits all work on the new master
from the same REDIS_URL, without a restart."""

from __future__ import annotations

import asyncio
import time

import django_rq
import pytest
from django.core.cache import caches
from rq import SimpleWorker

from switchboard.connections import cache_config, redis_client, redis_sync, rq_queue_config
from switchboard.hub import GAP, Hub, Message
from switchboard.limits import rate_limit_hit
from tests.sentinel import SentinelSet


@pytest.fixture
def sentinel_set():
    cluster = SentinelSet(password="fail-pw", db=1).start()
    yield cluster
    cluster.stop()


def write_until_it_works(url: str, timeout: float = 30.0) -> float:
    """Seconds until a SET through a fresh Sentinel client succeeds."""
    start = time.monotonic()
    client = redis_client(url, socket_connect_timeout=1, socket_timeout=1)
    while True:
        try:
            client.set("sb-failover:probe", "ok")
            return time.monotonic() - start
        except Exception:
            if time.monotonic() - start > timeout:
                raise
            time.sleep(0.05)


def test_every_client_follows_a_failover(sentinel_set, settings):
    url = sentinel_set.url
    settings.REDIS_URL = url
    settings.RQ_QUEUES = {name: rq_queue_config(url, DEFAULT_TIMEOUT=60) for name in ("high", "default", "low")}
    settings.CACHES = {"default": {**settings.CACHES["default"], **cache_config(url)}}
    redis_sync().set("sb-failover:before", "1")
    queue = django_rq.get_queue("default")
    queue.enqueue("builtins.len", "ab")  # rq knows the queue before the kill (the replica has it)

    async def scenario() -> list:
        hub = Hub(url, connect_timeout=3, down_poll=0.5, max_backoff=0.5)
        events = []
        try:
            async with hub.subscribe("sb-failover:chan") as sub:
                assert sub.ready
                old_port = sentinel_set.master.port
                sentinel_set.kill_master()
                # the waiter hears GAP (it may have missed messages) while the hub is down or reconnecting
                events.append(await sub.get(timeout=10))
                took = await asyncio.to_thread(write_until_it_works, url)
                assert await hub.wait_connected(15)
                # the hub is on the new master: a publish there reaches the waiter
                publisher = redis_client(url)
                deadline = time.monotonic() + 15
                while publisher.publish("sb-failover:chan", b"after") == 0:
                    assert time.monotonic() < deadline, "the hub never subscribed on the new master"
                    await asyncio.sleep(0.1)
                while (event := await sub.get(timeout=10)) is GAP:
                    pass
                events.append(event)
                assert publisher.connection_pool.get_master_address()[1] != old_port
                print(f"kill -> first successful write: {took:.2f}s")
        finally:
            await hub.close()
        return events

    events = asyncio.run(scenario())
    assert events == [GAP, Message("sb-failover:chan", b"after")]
    assert sentinel_set.sentinels_agree(sentinel_set.replica.port)
    # redis_sync, rq, the cache and the rate limits: the same clients, now on the promoted replica
    assert redis_sync().get("sb-failover:probe") == b"ok"
    job = queue.enqueue("builtins.len", "abc")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert job.return_value(refresh=True) == 3
    cache = caches["default"]
    cache.set("sb-failover:cache", {"n": 1}, 30)
    assert cache.get("sb-failover:cache") == {"n": 1}
    assert rate_limit_hit(scope="failover", ident="x", limit=5, window=30).allowed
