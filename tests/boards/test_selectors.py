"""Board reads: state, batched async reads, the watch (subscribe before read, summarise, timeout, reset) and stream."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
import time

import pytest
from asgiref.sync import sync_to_async

from boards.models import Board
from boards.selectors import (
    BoardState,
    _newest,
    board_get,
    board_progress,
    board_state,
    board_state_async,
    board_stream,
    board_watch,
    board_watch_url,
    boards_states,
    state_from_message,
)
from boards.services import BoardNotFound, board_channel, board_delete, board_key, board_notify, known_key
from switchboard.connections import redis_sync
from switchboard.hub import GAP, Message, get_hub

pytestmark = pytest.mark.usefixtures("loop_clients")


# -- synchronous reads ----------------------------------------------------------------------------
def test_board_get_answers_version_and_value(board):
    assert board_get(name=board) == (1, {"percent": 10, "message": "start"})


@pytest.mark.django_db
def test_a_board_with_no_value_yet_says_so(board_name):
    Board.objects.create(name=board_name)
    state = board_state(name=board_name)
    assert (state.version, state.value, state.has_value) == (0, None, False)
    assert redis_sync().sismember(known_key(), board_name)  # the record is remembered in Redis from now on


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["nope-never-created", "BAD NAME"])
def test_unknown_board_is_not_found(name):
    with pytest.raises(BoardNotFound):
        board_state(name=name)


@pytest.mark.django_db
def test_boards_states_reads_many_in_one_go(board, board_name):
    states = boards_states(names=[board, "t-missing-board"])
    assert states[board].version == 1
    assert states["t-missing-board"] == BoardState("t-missing-board", 0, None)
    assert boards_states(names=[]) == {}


def test_progress_is_read_from_a_percent_and_clamped():
    def progress(value_json):
        return board_progress(BoardState("b", 1, value_json))

    assert progress('{"percent": 40, "message": "copying"}') == {"percent": 40.0, "message": "copying"}
    assert progress('{"percent": 140}') == {"percent": 100.0, "message": ""}
    assert progress('{"percent": true}') is None
    assert progress('"text"') is None
    assert progress(None) is None


def test_watch_url_names_the_version_to_wait_past():
    assert board_watch_url(name="b1") == "/boards/b1/watch"
    assert board_watch_url(name="b1", since=7) == "/boards/b1/watch?ts=7"


def test_newest_summarises_messages_and_signals_a_gap():
    current = BoardState("b", 3, "0")
    events = [Message("c", b"4\n4"), Message("c", b"5\n5")]
    assert _newest("b", events, current) == BoardState("b", 5, "5")
    assert _newest("b", [Message("c", b"3\n3")], current) is current
    assert _newest("b", [Message("c", b"1\n1")], current) is None  # a version going backwards: re-read
    assert _newest("b", [Message("c", b"9\n9"), GAP], current) is None
    assert state_from_message("b", b'12\n{"x":"a\\nb"}').value == {"x": "a\nb"}


# -- asynchronous reads -------------------------------------------------------------------------
async def parked(name: str, *, timeout: float = 20.0) -> None:
    """Wait until a watcher of board ``name`` is subscribed on the hub (its first read may still be under way)."""
    deadline = time.monotonic() + timeout
    while get_hub().waiter_count(board_channel(name)) == 0:
        assert time.monotonic() < deadline, f"no watcher of {name} parked within {timeout} s"
        await asyncio.sleep(0.01)


async def test_watch_answers_at_once_when_behind(board):
    await sync_to_async(board_notify)(name=board, value=2)
    started = time.monotonic()
    state = await board_watch(name=board, since=1, timeout=10)
    assert (state.version, state.value) == (2, 2)
    assert time.monotonic() - started < 5  # not the 10 s timeout


async def test_watch_without_since_answers_the_current_state_at_once(board):
    state = await board_watch(name=board, since=None, timeout=10)
    assert state.version == 1
    assert state.value == {"percent": 10, "message": "start"}


async def test_watch_waits_and_wakes_on_notify(board):
    watcher = asyncio.create_task(board_watch(name=board, since=1, timeout=30))
    await parked(board)
    assert not watcher.done()
    started = time.monotonic()
    await sync_to_async(board_notify)(name=board, value={"percent": 50})
    state = await asyncio.wait_for(watcher, 20)
    assert (state.version, state.value) == (2, {"percent": 50})
    assert time.monotonic() - started < 10  # woken by the notify, not by the 30 s timeout


async def test_watch_timeout_returns_the_unchanged_state(board):
    started = time.monotonic()
    state = await board_watch(name=board, since=1, timeout=0.3)
    assert 0.25 < time.monotonic() - started < 0.3 + 5  # it waited its timeout, and ended
    assert (state.version, state.value) == (1, {"percent": 10, "message": "start"})


async def test_a_notify_racing_the_subscribe_is_never_lost(board):
    """Many rounds: a notifier thread fires while the watcher subscribes and reads; the watcher must see it."""
    version = 1
    for _ in range(150):
        delay = random.uniform(0, 0.004)
        notifier = threading.Thread(target=lambda d=delay: (time.sleep(d), board_notify(name=board, value=d)))
        watcher = asyncio.create_task(board_watch(name=board, since=version, timeout=10))
        notifier.start()
        state = await watcher
        notifier.join()
        assert state.version == version + 1, "a notify was lost: the watcher timed out on the old version"
        version = state.version


def hub_socket_holds(channel: str, count: int, *, timeout: float = 20.0) -> None:
    """Block (the event loop must not run meanwhile) until the hub's pub/sub socket holds ``count`` unread
    messages of ``channel``. The server may write pub/sub messages to subscribers after it has answered the
    publisher (Valkey's I/O threads do), so a test that needs them all there before the hub reads looks at
    the socket itself: a peek at a duplicate of its descriptor, which reads nothing away from the hub."""
    transport_socket = get_hub()._pubsub.connection._writer.get_extra_info("socket")
    marker = f"${len(channel)}\r\n{channel}\r\n".encode()  # the channel's bulk string in each message frame
    deadline = time.monotonic() + timeout
    with socket.socket(fileno=os.dup(transport_socket.fileno())) as peek:
        while True:
            try:
                unread = peek.recv(1 << 20, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                unread = b""
            if unread.count(marker) >= count:
                return
            assert time.monotonic() < deadline, f"{unread.count(marker)} of {count} messages reached the hub"
            time.sleep(0.005)


async def test_several_notifies_during_one_wait_are_summarised_as_the_latest(board):
    watcher = asyncio.create_task(board_watch(name=board, since=1, timeout=10))
    await parked(board)
    for step in (2, 3, 4):  # blocking on purpose: the loop cannot wake the watcher between them
        board_notify(name=board, value={"step": step})
    hub_socket_holds(board_channel(board), 3)  # still blocking: all three wait unread for the hub
    state = await asyncio.wait_for(watcher, 5)
    assert (state.version, state.value) == (4, {"step": 4})


async def test_since_ahead_of_the_board_answers_at_once(board):
    started = time.monotonic()
    state = await board_watch(name=board, since=99, timeout=10)
    assert state.version == 1
    assert time.monotonic() - started < 5  # not the 10 s timeout


async def test_watch_of_unknown_board_raises_not_found(db):
    with pytest.raises(BoardNotFound):
        await board_watch(name="t-no-such-board-anywhere", since=None, timeout=1)
    with pytest.raises(BoardNotFound):
        await board_watch(name="t-no-such-board-anywhere", since=3, timeout=1)


@pytest.mark.django_db(transaction=True)
async def test_watch_finds_a_board_known_only_to_the_database(board_name):
    await Board.objects.acreate(name=board_name)
    state = await board_state_async(name=board_name)
    assert (state.version, state.value_json) == (0, None)


@pytest.mark.django_db(transaction=True)
async def test_redis_losing_its_data_wakes_waiting_watchers_with_the_reset_state(restartable_redis, board_name):
    await sync_to_async(board_notify)(name=board_name, value="before")
    await sync_to_async(board_notify)(name=board_name, value="before")
    watcher = asyncio.create_task(board_watch(name=board_name, since=2, timeout=20))
    await parked(board_name)
    await asyncio.to_thread(restartable_redis.restart, down_for=0.2)  # no persistence: the board is gone
    state = await asyncio.wait_for(watcher, 15)
    assert (state.version, state.value_json) == (0, None)  # answered at once: nobody waits for version 3


@pytest.mark.django_db(transaction=True)
async def test_parked_watchers_of_a_board_deleted_and_recreated_answer_at_once_with_the_new_value(board_name):
    for _ in range(51):
        await sync_to_async(board_notify)(name=board_name, value="old")
    read: list[int] = []

    async def count_reads(state: BoardState) -> None:  # awaited with each watcher's first read
        read.append(state.version)

    watchers = [
        asyncio.create_task(board_watch(name=board_name, since=51, timeout=20, may_read=count_reads)) for _ in range(5)
    ]
    deadline = time.monotonic() + 20
    # Subscribed AND read: a watcher counts as waiting as soon as it subscribes, before its first read,
    # and a first read landing after the delete would rightly answer the deleted board at once.
    while get_hub().waiter_count(board_channel(board_name)) < 5 or len(read) < 5:
        assert time.monotonic() < deadline, "the five watchers did not all subscribe and read"
        await asyncio.sleep(0.01)
    assert read == [51] * 5
    record = await Board.objects.aget(name=board_name)
    await sync_to_async(board_delete)(board=record)
    started = time.monotonic()
    await sync_to_async(board_notify)(name=board_name, value="new")  # recreated: its version restarts at 1
    states = await asyncio.wait_for(asyncio.gather(*watchers), 15)
    assert time.monotonic() - started < 10  # at once, not at the 20 s timeout
    assert {(state.version, state.value) for state in states} == {(1, "new")}


async def test_a_watch_never_answers_no_change_from_stale_knowledge(board):
    """A change the hub never delivered (written without a publish) is seen at the end of the wait."""
    watcher = asyncio.create_task(board_watch(name=board, since=1, timeout=0.5))
    while get_hub().waiter_count(board_channel(board)) == 0:
        await asyncio.sleep(0.01)
    redis_sync().hset(board_key(board), mapping={"version": 2, "value": '"silent"'})
    state = await asyncio.wait_for(watcher, 5)
    assert (state.version, state.value) == (2, "silent")


async def test_with_the_hub_down_a_parked_watcher_rereads_the_board_within_the_down_poll(board, tmp_path):
    from switchboard import hub as hub_module

    loop = asyncio.get_running_loop()
    broken = hub_module.Hub(f"unix://{tmp_path}/no-redis-here.sock?db=0", connect_timeout=30, down_poll=0.3)
    hub_module._hubs[loop] = broken  # the pub/sub connection cannot be made; Redis itself answers
    try:
        started = time.monotonic()
        watcher = asyncio.create_task(board_watch(name=board, since=1, timeout=60))
        while broken.waiter_count(board_channel(board)) == 0:
            await asyncio.sleep(0.01)
        parked_at = time.monotonic()
        await asyncio.sleep(0.5)  # parked through a down_poll or two
        notified = time.monotonic()
        await sync_to_async(board_notify)(name=board, value="while the hub is down")
        state = await asyncio.wait_for(watcher, 30)
        assert (state.version, state.value) == (2, "while the hub is down")
        assert time.monotonic() - notified < 10  # the down_poll (0.3 s) bound, not the 60 s timeout
        assert parked_at - started < 10  # nor did it wait the 30 s connect timeout first
    finally:
        await broken.close()
        hub_module._hubs.pop(loop, None)


async def test_concurrent_reads_share_batches_on_one_connection(board):
    states = await asyncio.gather(*(board_state_async(name=board) for _ in range(300)))
    assert {s.version for s in states} == {1}
    from switchboard.connections import redis_async

    pool = redis_async().connection_pool
    assert len(pool._available_connections) + len(pool._in_use_connections) == 1


async def test_stream_yields_current_then_each_newer_state_and_heartbeats(board):
    stream = board_stream(name=board, since=None, heartbeat=0.2)
    first = await anext(stream)
    assert first.version == 1
    assert await asyncio.wait_for(anext(stream), 20) is None  # quiet: a heartbeat
    await sync_to_async(board_notify)(name=board, value="two")
    second = await asyncio.wait_for(anext(stream), 20)
    assert (second.version, second.value) == (2, "two")
    await stream.aclose()


async def test_stream_since_the_current_version_skips_the_first_state(board):
    stream = board_stream(name=board, since=1, heartbeat=60)
    nxt = asyncio.ensure_future(anext(stream))
    await parked(board)
    assert not nxt.done()
    await sync_to_async(board_notify)(name=board, value="two")
    assert (await asyncio.wait_for(nxt, 20)).version == 2
    await stream.aclose()


def test_state_is_read_from_redis_not_memory(board):
    redis_sync().hset(board_key(board), mapping={"version": 7, "value": '"x"'})
    assert board_get(name=board) == (7, "x")
