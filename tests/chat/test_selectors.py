"""Reads: history pages, and the live follower's guarantees (subscribe first, backfill, idle check, GAP)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest
import redis.asyncio as aioredis
from django.conf import settings as django_settings
from django.db import connection

from chat.selectors import db_call, messages_after, messages_follow, messages_recent, room_get, rooms_list
from chat.services import message_post
from chat.wire import envelope_encode, room_channel


async def post(**kwargs):
    """message_post in a worker thread that releases its connection (db_call)."""
    return await db_call(message_post, **kwargs)


async def take(room, after: int, count: int, timeout: float = 10.0) -> list:
    """The first ``count`` envelopes messages_follow yields."""
    out = []

    async def run():
        async for envelope in messages_follow(room=room, after=after):
            out.append(envelope)
            if len(out) == count:
                return

    await asyncio.wait_for(run(), timeout)
    return out


@pytest.mark.django_db
def test_messages_after_and_recent_are_oldest_first(room):
    for i in range(6):
        message_post(room=room, author=None, text=f"m{i}")
    assert [m.seq for m in messages_after(room=room, after_seq=2, limit=3)] == [3, 4, 5]
    assert [m.seq for m in messages_recent(room=room, limit=2)] == [5, 6]
    assert room_get(slug=room.slug) == room
    assert room in rooms_list()


pytestmark_async = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_closed_after")]


class Follower:
    """messages_follow running in a task; ``live()`` returns once it has read history and is following live."""

    def __init__(self, room, *, after: int = 0) -> None:
        self.room, self.after = room, after
        self.out: list = []
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> Follower:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        async for envelope in messages_follow(room=self.room, after=self.after):
            self.out.append(envelope)

    async def until(self, count: int, *, timeout: float = 10.0) -> list:
        """Wait (polling, up to ``timeout``) until ``count`` envelopes have arrived; they are returned."""
        deadline = time.monotonic() + timeout
        while len(self.out) < count:
            if self._task.done():
                self._task.result()  # raises what the follower raised
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.out)} of {count} messages after {timeout} s")
            await asyncio.sleep(0.01)
        return self.out[:count]

    async def live(self) -> None:
        """Post a published probe and wait for it: history is read and the follower hears live messages."""
        expected = len(self.out) + 1
        await post(room=self.room, author=None, text="probe")
        await self.until(expected)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_closed_after")
async def test_follow_replays_history_then_goes_live(room):
    for i in range(3):
        await post(room=room, author=None, text=f"old{i}")
    async with Follower(room, after=1) as follower:
        await follower.until(2)  # history
        for i in range(2):
            await post(room=room, author=None, text=f"new{i}")
        got = await follower.until(4)
    assert [e.seq for e in got] == [2, 3, 4, 5]
    assert [e.as_dict()["text"] for e in got] == ["old1", "old2", "new0", "new1"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_closed_after")
async def test_follow_started_while_a_writer_posts_has_no_gap_and_no_duplicate(room):
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set() and i < 300:
            message_post(room=room, author=None, text=f"m{i}")
            i += 1
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        await asyncio.sleep(0.05)  # let the writer start: the follower joins a room that is being written
        got = await take(room, after=0, count=150, timeout=30)
    finally:
        stop.set()
        await asyncio.to_thread(thread.join)
    assert [e.seq for e in got] == list(range(1, 151))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_closed_after")
async def test_a_jump_in_sequence_is_backfilled_from_the_database_at_once(room, settings):
    settings.CHAT_IDLE_CHECK = 30  # prove the backfill does not wait for the idle check
    publisher = aioredis.Redis.from_url(django_settings.REDIS_URL)
    async with Follower(room) as follower:
        await follower.live()  # seq 1, heard live: history is behind the follower
        started = time.monotonic()
        await post(room=room, author=None, text="lost-2", publish=False)
        await post(room=room, author=None, text="lost-3", publish=False)
        fourth = await post(room=room, author=None, text="heard-4", publish=False)
        await publisher.publish(room_channel(room.slug), envelope_encode(fourth).data)
        got = await follower.until(4, timeout=10)
        took = time.monotonic() - started
    await publisher.aclose()
    assert [e.seq for e in got] == [1, 2, 3, 4]
    assert took < 10  # the idle check is 30 s: only the jump can have brought 2 and 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_closed_after")
async def test_suppressed_publish_reaches_a_waiting_reader_within_the_idle_check(room, settings):
    settings.CHAT_IDLE_CHECK = 0.5
    async with Follower(room) as follower:
        await follower.live()
        posted_at = time.monotonic()
        message = await post(room=room, author=None, text="silent", publish=False)
        got = await follower.until(2)
        received = time.monotonic()
    assert got[1].seq == message.seq == 2
    # The idle check plus generous slack; the control below shows nothing else brings it.
    assert received - posted_at < 0.5 + 4.5


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_closed_after")
async def test_hub_reconnect_makes_the_reader_reread_the_database(room, restartable_redis, settings):
    settings.CHAT_IDLE_CHECK = 30  # prove the GAP, not the idle check, brings the message
    async with Follower(room) as follower:
        await follower.live()
        started = time.monotonic()
        await asyncio.to_thread(restartable_redis.kill)
        await post(room=room, author=None, text="posted while Redis was down")  # publish fails
        await asyncio.to_thread(restartable_redis.start)
        got = await follower.until(2, timeout=20)
        took = time.monotonic() - started
    assert got[1].as_dict()["text"] == "posted while Redis was down"
    assert took < 15  # the idle check is 30 s


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_closed_after")
async def test_messages_from_other_rooms_and_foreign_payloads_are_ignored(make_room, settings):
    settings.CHAT_IDLE_CHECK = 30
    room, other = await db_call(make_room), await db_call(make_room)
    publisher = aioredis.Redis.from_url(django_settings.REDIS_URL)
    async with Follower(room) as follower:
        await follower.live()
        await post(room=other, author=None, text="elsewhere")
        await publisher.publish(room_channel(room.slug), b"garbage")
        await post(room=room, author=None, text="here")
        got = await follower.until(2)
    await publisher.aclose()
    assert got[1].as_dict()["text"] == "here" and got[1].seq == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_closed_after")
async def test_keepalive_yields_empty_batches_when_nothing_happens(room, settings):
    from chat.selectors import message_batches_follow

    settings.CHAT_IDLE_CHECK = 0.2
    batches = []
    started = time.monotonic()
    async for batch in message_batches_follow(room=room, after=0, keepalive=0.5):
        batches.append(batch)
        if len(batches) == 2:
            break
    assert batches == [[], []]
    assert 0.9 < time.monotonic() - started < 10  # two keepalives of 0.5 s; generous slack above


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_closed_after")
async def test_a_long_backlog_is_read_page_by_page_in_order(room, settings):
    from chat.selectors import message_batches_follow

    settings.CHAT_MAX_PAGE = 3
    for i in range(10):
        await post(room=room, author=None, text=f"m{i}", publish=False)
    sizes, seqs = [], []
    async for batch in message_batches_follow(room=room, after=0):
        sizes.append(len(batch))
        seqs.extend(e.seq for e in batch)
        if seqs[-1] == 10:
            break
    assert sizes == [3, 3, 3, 1]
    assert seqs == list(range(1, 11))


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_closed_after")
async def test_without_the_idle_check_a_suppressed_publish_would_wait(room, settings):
    """The control for the test above: with a long idle check, nothing else brings the message."""
    settings.CHAT_IDLE_CHECK = 30
    async with Follower(room) as follower:
        await follower.live()
        await post(room=room, author=None, text="silent", publish=False)
        with pytest.raises(TimeoutError):
            await follower.until(2, timeout=1.5)


@pytest.fixture
async def broken_hub(tmp_path):
    """This event loop's hub can never connect (its URL names no server); Redis and the database still answer."""
    from switchboard import hub as hub_module

    loop = asyncio.get_running_loop()
    hub = hub_module.Hub(f"unix://{tmp_path}/no-redis-here.sock?db=0", connect_timeout=30, down_poll=0.3)
    hub_module._hubs[loop] = hub
    yield hub
    await hub.close()
    hub_module._hubs.pop(loop, None)


@pytest.mark.django_db(transaction=True)
async def test_with_the_hub_down_a_follower_rereads_the_database_within_the_down_poll(room, settings, broken_hub):
    settings.CHAT_IDLE_CHECK = 30  # only the hub's down poll can bring the message in time
    reader = asyncio.create_task(take(room, after=0, count=1, timeout=60))
    while broken_hub.waiter_count() == 0:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.4)  # parked through a down poll
    posted = time.monotonic()
    await post(room=room, author=None, text="hub is down")
    [envelope] = await reader
    assert envelope.seq == 1
    assert time.monotonic() - posted < 10  # the down poll (0.3 s), not the 30 s idle check


@pytest.mark.django_db(transaction=True)
async def test_with_the_hub_down_a_poll_answers_within_the_down_poll(room, settings, broken_hub):
    from chat.views import _poll_wait

    started = time.monotonic()
    waiter = asyncio.create_task(_poll_wait(room, after=0, deadline=started + 60, limit=50, idle=60))
    while broken_hub.waiter_count() == 0:
        await asyncio.sleep(0.01)
    parked = time.monotonic()
    await asyncio.sleep(0.4)  # parked through a down poll
    posted = time.monotonic()
    await post(room=room, author=None, text="hub is down")
    envelopes = await asyncio.wait_for(waiter, 30)
    assert [e.seq for e in envelopes] == [1]
    assert time.monotonic() - posted < 10  # the down poll (0.3 s), not the 60 s idle check
    assert parked - started < 10  # it did not wait the hub's 30 s connect timeout before starting
