"""Forced interleavings for the board contract: a notify landing right after the watcher's read, and
notifies racing each other (the stored value is always the one published with the stored version)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest
from asgiref.sync import sync_to_async

from boards import selectors
from boards.selectors import board_state, board_watch
from boards.services import board_channel, board_notify
from switchboard.connections import redis_sync

pytestmark = pytest.mark.usefixtures("loop_clients")


async def test_a_notify_right_after_the_watchers_read_wakes_it_at_once(board, monkeypatch):
    """The read is forced between the subscribe and the wait: the notify lands after the watcher read v1.

    A watcher that reads before it subscribes misses that publish and answers only at its timeout.
    """
    real_read = selectors.board_state_async
    notified: list[int] = []

    async def read_then_notify(*, name):
        state = await real_read(name=name)
        if not notified:  # once: right after the watcher's first read, before it waits
            notified.append(await sync_to_async(board_notify)(name=name, value={"percent": 99}))
        return state

    monkeypatch.setattr(selectors, "board_state_async", read_then_notify)
    started = time.monotonic()
    state = await asyncio.wait_for(board_watch(name=board, since=1, timeout=6), 30)
    took = time.monotonic() - started
    assert notified == [2]
    assert (state.version, state.value) == (2, {"percent": 99})
    assert took < 3, f"the watcher answered after {took:.1f} s: it missed the notify and waited for its timeout"


THREADS = 6
PER_THREAD = 150


def test_racing_notifies_leave_the_board_holding_the_value_published_with_its_version(db, board_name):
    """Many notifiers on one board, and a reader sampling it meanwhile: every (version, value) any reader
    sees is the pair published for that version, and versions are published once each, 1..N."""
    subscriber = redis_sync().pubsub()
    subscriber.subscribe(board_channel(board_name))
    assert subscriber.get_message(timeout=5)["type"] == "subscribe"
    stop = threading.Event()
    sampled: list[tuple[int, object]] = []
    errors: list[BaseException] = []

    def notifier(t: int) -> None:
        try:
            for i in range(PER_THREAD):
                board_notify(name=board_name, value={"t": t, "i": i})
        except BaseException as exc:
            errors.append(exc)

    def sampler() -> None:
        try:
            while not stop.is_set():
                state = board_state(name=board_name)
                if state.version:
                    sampled.append((state.version, state.value))
        except BaseException as exc:
            errors.append(exc)

    board_notify(name=board_name, value="start")  # version 1: the board exists for the sampler
    reading = threading.Thread(target=sampler)
    reading.start()
    writers = [threading.Thread(target=notifier, args=(t,)) for t in range(THREADS)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
    stop.set()
    reading.join(30)
    assert not errors, errors

    total = 1 + THREADS * PER_THREAD
    published: dict[int, str] = {}
    deadline = time.monotonic() + 30
    while len(published) < total and time.monotonic() < deadline:
        message = subscriber.get_message(timeout=1)
        if message and message["type"] == "message":
            version, _, value = message["data"].decode().partition("\n")
            assert int(version) not in published, f"version {version} published twice"
            published[int(version)] = value
    subscriber.close()
    assert sorted(published) == list(range(1, total + 1))
    decoded = {version: json.loads(value) for version, value in published.items()}
    final = board_state(name=board_name)
    assert final.version == total
    assert final.value == decoded[total], "the board holds a value other than the one published with its version"
    mismatched = [(v, value) for v, value in sampled if decoded[v] != value]
    assert not mismatched, f"{len(mismatched)} reads saw a value not published with their version: {mismatched[:3]}"
    assert len(sampled) > 10  # the sampler really read while the notifiers ran
