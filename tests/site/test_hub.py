"""The subscription hub: one Redis connection for many waiters, fan-out, no lost subscribe, restarts."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from switchboard.hub import GAP, HUB_CLIENT_NAME, Hub, Message

# Every test runs over TCP and over the unix socket (the embedded default of `make run`).
pytestmark = pytest.mark.usefixtures("redis_form")


async def hub_connections(url: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        clients = await client.client_list()
        return sum(1 for c in clients if c.get("name") == HUB_CLIENT_NAME)
    finally:
        await client.aclose()


@pytest.fixture
async def hub(restartable_redis):
    hub = Hub(restartable_redis.url, linger=0.2, connect_timeout=2.0)
    yield hub
    await hub.close()


async def test_many_waiters_share_one_connection_and_all_get_the_message(hub, restartable_redis):
    publisher = aioredis.Redis.from_url(restartable_redis.url)
    received: list[bytes] = []

    async def waiter(ready: asyncio.Event, counter: list[int]):
        async with hub.subscribe("chan:a") as sub:
            counter.append(1)
            if len(counter) == 500:
                ready.set()
            event = await sub.get(timeout=10)
            assert isinstance(event, Message)
            received.append(event.data)

    ready, counter = asyncio.Event(), []
    tasks = [asyncio.create_task(waiter(ready, counter)) for _ in range(500)]
    await asyncio.wait_for(ready.wait(), 10)
    assert await hub_connections(restartable_redis.url) == 1
    assert hub.waiter_count("chan:a") == 500
    assert await publisher.publish("chan:a", b"hello") == 1  # one Redis subscriber for 500 waiters
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert received == [b"hello"] * 500
    await publisher.aclose()


async def test_subscribe_returns_only_once_redis_confirmed_it(hub, restartable_redis):
    publisher = aioredis.Redis.from_url(restartable_redis.url)
    for i in range(50):
        channel = f"race:{i}"
        async with hub.subscribe(channel) as sub:
            assert sub.ready
            # Published right after subscribe returns: must never be missed.
            assert await publisher.publish(channel, str(i)) == 1
            event = await sub.get(timeout=5)
            assert event == Message(channel, str(i).encode())
    await publisher.aclose()


async def test_channel_is_unsubscribed_after_last_waiter_leaves_and_linger(restartable_redis):
    hub = Hub(restartable_redis.url, linger=3.0, connect_timeout=2.0)
    publisher = aioredis.Redis.from_url(restartable_redis.url)
    try:
        async with hub.subscribe("short") as sub:
            assert sub.ready
        left = time.monotonic()
        assert (await publisher.pubsub_numsub("short"))[0][1] == 1  # still lingering
        assert time.monotonic() - left < 3.0, "too slow to see the linger: the check above proves nothing"
        deadline = time.monotonic() + 30
        while "short" in hub.channels or (await publisher.pubsub_numsub("short"))[0][1] != 0:
            assert time.monotonic() < deadline, "the channel was never unsubscribed after its linger"
            await asyncio.sleep(0.05)
        assert time.monotonic() - left >= 3.0  # not before its linger
    finally:
        await hub.close()
        await publisher.aclose()


async def test_timeout_returns_none(hub):
    async with hub.subscribe("quiet") as sub:
        assert await sub.get(timeout=0.1) is None


async def gaps_until_live(sub, hub, publisher, channel: str) -> None:
    """Read the GAPs of an outage until the hub is back and Redis has the channel subscribed again."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        event = await sub.get(timeout=15)
        assert event is GAP  # nothing but GAPs while Redis is away
        if hub.connected and (await publisher.pubsub_numsub(channel))[0][1] == 1:
            return
        assert asyncio.get_running_loop().time() < deadline


async def next_message(sub) -> Message:
    while (event := await sub.get(timeout=5)) is GAP:
        pass
    return event


async def test_redis_restart_is_survived_and_signalled_with_gap(hub, restartable_redis):
    async with hub.subscribe("survivor") as sub:
        assert sub.ready
        await asyncio.to_thread(restartable_redis.restart, down_for=0.3)
        publisher = aioredis.Redis.from_url(restartable_redis.url)
        await gaps_until_live(sub, hub, publisher, "survivor")
        assert hub.reconnects >= 1
        # After the GAP the subscription is live again on the new server.
        assert await publisher.publish("survivor", b"after") == 1
        assert await next_message(sub) == Message("survivor", b"after")
        assert await hub_connections(restartable_redis.url) == 1
        await publisher.aclose()


async def test_waiter_arriving_while_redis_is_down_gets_gap_when_it_returns(hub, restartable_redis):
    async with hub.subscribe("warmup") as sub:
        assert sub.ready
    restartable_redis.stop()
    deadline = time.monotonic() + 20
    while hub.connected:  # the hub notices Redis is gone
        assert time.monotonic() < deadline, "the hub never noticed Redis stopped"
        await asyncio.sleep(0.02)
    hub.connect_timeout = 0.3
    async with hub.subscribe("late") as sub:
        assert not sub.ready
        await asyncio.to_thread(restartable_redis.start)
        publisher = aioredis.Redis.from_url(restartable_redis.url)
        await gaps_until_live(sub, hub, publisher, "late")
        assert await publisher.publish("late", b"x") == 1
        assert await next_message(sub) == Message("late", b"x")
        await publisher.aclose()


async def test_while_the_hub_is_down_waiters_get_a_gap_every_down_poll_and_do_not_wait_to_subscribe(
    restartable_redis,
):
    hub = Hub(restartable_redis.url, connect_timeout=5.0, down_poll=0.3)
    try:
        async with hub.subscribe("warm") as sub:
            assert sub.ready and hub.connected
            restartable_redis.stop()
            assert await sub.get(timeout=5) is GAP  # parked on a live connection: told at once
            started = asyncio.get_running_loop().time()
            for _ in range(3):
                assert await sub.get(timeout=2) is GAP  # then every down_poll seconds
            assert asyncio.get_running_loop().time() - started < 2.5
            assert hub.down and not hub.connected
            before = asyncio.get_running_loop().time()
            async with hub.subscribe("arriving") as late:
                assert asyncio.get_running_loop().time() - before < 0.5  # not the 5 s connect timeout
                assert not late.ready
                assert await late.get(timeout=2) is GAP
    finally:
        await hub.close()


async def test_a_hub_that_cannot_connect_at_all_makes_its_waiters_poll(settings, tmp_path):
    hub = Hub(f"unix://{tmp_path}/nobody.sock?db=0", connect_timeout=0.5, down_poll=0.2)
    try:
        async with hub.subscribe("never") as sub:
            assert not sub.ready
            events = [await sub.get(timeout=2) for _ in range(3)]
            assert events == [GAP, GAP, GAP]
            assert hub.stats() == {"connected": False, "channels": 1, "waiters": 1, "reconnects": hub.reconnects}
    finally:
        await hub.close()


async def test_slow_waiter_overflow_becomes_gap(restartable_redis):
    hub = Hub(restartable_redis.url, max_queue=5)
    publisher = aioredis.Redis.from_url(restartable_redis.url)
    try:
        async with hub.subscribe("flood") as sub:
            for i in range(20):
                await publisher.publish("flood", str(i))
            deadline = time.monotonic() + 20
            while not sub._events or sub._events[-1] != Message("flood", b"19"):  # the last one has arrived
                assert time.monotonic() < deadline, "the 20 messages never reached the waiter"
                await asyncio.sleep(0.02)
            events = sub.drain()
            assert GAP in events
            assert len(events) <= 5
    finally:
        await hub.close()
        await publisher.aclose()


async def test_get_hub_is_one_per_event_loop(settings):
    from switchboard.hub import get_hub

    assert get_hub() is get_hub()
    assert get_hub().url == settings.REDIS_URL


async def test_a_waiter_cancelled_while_subscribing_is_not_left_behind(hub):
    async def waiter():
        async with hub.subscribe("cancelled") as sub:
            await sub.get(timeout=10)

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)  # the waiter is inside subscribe, waiting for Redis to confirm
    assert hub.waiter_count("cancelled") == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert hub.waiter_count("cancelled") == 0  # a client that left at once must not stay counted (or subscribed)


async def test_an_attached_deliverer_gets_a_ticks_messages_in_one_call_and_refusals_are_queued_in_order(
    hub, restartable_redis
):
    publisher = aioredis.Redis.from_url(restartable_redis.url)
    calls: list[list[bytes]] = []
    refuse = False

    def deliver(messages: list[Message]) -> bool:
        calls.append([m.data for m in messages])
        return not refuse

    try:
        async with hub.subscribe("direct") as sub:
            sub.attach(deliver)
            async with publisher.pipeline(transaction=False) as pipe:
                for i in range(50):
                    pipe.publish("direct", str(i))
                await pipe.execute()  # one write: the hub hears them within a tick or a few
            for _ in range(100):
                if sum(len(c) for c in calls) == 50:
                    break
                await asyncio.sleep(0.02)
            assert [data for call in calls for data in call] == [str(i).encode() for i in range(50)]
            assert len(calls) < 50, "each message woke the deliverer on its own: no coalescing"
            assert sub.drain() == []  # delivered, not queued
            refuse = True
            for i in range(50, 53):
                await publisher.publish("direct", str(i))
            events = [await sub.get(timeout=5) for _ in range(3)]
            assert [e.data for e in events] == [b"50", b"51", b"52"]  # refused: queued, in order, task woken
    finally:
        await publisher.aclose()
