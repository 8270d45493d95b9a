"""Board reads: the current state, and the async watch that waits for the next one."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from boards.services import BoardNotFound, board_channel, board_key, known_key, validate_name
from switchboard.connections import redis_async, redis_sync
from switchboard.fanout import DirectWriter, next_event_writing_direct
from switchboard.hub import GAP, Message, get_hub

ReadCheck = Callable[["BoardState"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class BoardState:
    """A board's version (0: no value yet) and its value as JSON text (None: no value yet)."""

    name: str
    version: int
    value_json: str | None
    private: bool = False  # readable only by whom BOARDS_READ_PERMISSION allows (boards.access)

    @property
    def value(self) -> Any:
        """The value, decoded (None when the board has no value yet)."""
        return None if self.value_json is None else json.loads(self.value_json)

    @property
    def has_value(self) -> bool:
        return self.value_json is not None


STATE_FIELDS = ("version", "value", "private")  # the fields of a board's Redis hash


def _decode(raw: bytes | str | None) -> str | None:
    return raw.decode() if isinstance(raw, bytes) else raw


def _state(name: str, version: bytes | None, value: bytes | None, private: bytes | None = None) -> BoardState:
    return BoardState(name=name, version=int(version or 0), value_json=_decode(value), private=bool(private))


@functools.lru_cache(maxsize=256)  # every local watcher of a board gets the same Message: parse it once
def state_from_message(name: str, data: bytes) -> BoardState:
    """Parse a published "<version>\\n<value JSON>" payload."""
    head, _, value = data.partition(b"\n")
    return BoardState(name=name, version=int(head), value_json=value.decode())


def board_watch_url(*, name: str, since: int | None = None) -> str:
    """The long-poll URL of the board (waiting for a version newer than ``since`` when given): for pages and
    sibling apps; the long-poll's own answers point back at the URL their watcher called (boards.views)."""
    from django.urls import reverse

    url = reverse("boards:watch", args=[name])
    return url if since is None else f"{url}?ts={since}"


def board_progress(state: BoardState) -> dict[str, Any] | None:
    """{"percent", "message"} when the value is an object with a numeric percent (clamped to 0..100), else None."""
    value = state.value
    if not isinstance(value, dict):
        return None
    percent = value.get("percent")
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        return None
    message = value.get("message")
    return {"percent": max(0.0, min(100.0, float(percent))), "message": "" if message is None else str(message)}


# -- synchronous reads (pages, admin, commands, sibling apps) ------------------------------------
def board_state(*, name: str) -> BoardState:
    """The board's current state; BoardNotFound when it has neither a record nor a value."""
    try:
        validate_name(name)
    except ValueError:
        raise BoardNotFound(f"No board named {name!r}.") from None
    pipe = redis_sync().pipeline(transaction=False)
    pipe.hmget(board_key(name), *STATE_FIELDS)
    pipe.sismember(known_key(), name)
    (version, value, private), known = pipe.execute()
    if not known and version is None and not _record_exists(name):
        raise BoardNotFound(f"No board named {name!r}: notify it once, or create it in the admin.")
    return _state(name, version, value, private)


def board_get(*, name: str) -> tuple[int, Any]:
    """The board's (version, value); (0, None) when it has no value yet; BoardNotFound when unknown."""
    state = board_state(name=name)
    return state.version, state.value


def boards_states(*, names: Iterable[str]) -> dict[str, BoardState]:
    """The states of several boards in one Redis round trip (unknown names read as no value)."""
    names = list(names)
    if not names:
        return {}
    pipe = redis_sync().pipeline(transaction=False)
    for name in names:
        pipe.hmget(board_key(name), *STATE_FIELDS)
    return {name: _state(name, *row) for name, row in zip(names, pipe.execute(), strict=True)}


def _record_exists(name: str) -> bool:
    from boards.models import Board

    if Board.objects.filter(name=name).exists():
        redis_sync().sadd(known_key(), name)  # Redis lost the set (or the board came from the admin)
        return True
    return False


LEAN_DB_MAX_AGE = 60.0  # seconds the lean path's thread keeps its database connection


def lean_db_done() -> None:
    """After database work on the lean ASGI path, where no request_finished signal closes this thread's connection.

    The thread keeps its connection for up to LEAN_DB_MAX_AGE seconds (a private board's watchers each read their
    session: reconnecting every time would cost more than the reads), and closes it once older, or when it is
    broken. A connection inside an outer transaction (as in tests) is left alone.
    """
    from django.db import connection

    if connection.in_atomic_block or connection.connection is None:
        return
    now = time.monotonic()
    opened = getattr(connection, "_boards_lean_opened", None)
    if opened is None:
        connection._boards_lean_opened = opened = now
    if now - opened > LEAN_DB_MAX_AGE or (connection.errors_occurred and not connection.is_usable()):
        connection.close()
        connection._boards_lean_opened = None


def _record_exists_then_close(name: str) -> bool:
    # Called from the lean ASGI path (see lean_db_done).
    try:
        return _record_exists(name)
    finally:
        lean_db_done()


# -- asynchronous reads (the long-poll and SSE views) -------------------------------------------
class _BatchedReader:
    """Reads board states for the watchers of one event loop over ONE Redis connection.

    Requests made while a read is in flight wait for the next batch, which is sent only after the
    current one answered: so a batch is always sent after every one of its requesters subscribed
    (nothing published after their SUBSCRIBE can be older than what they read), and thousands of
    watchers arriving at once cost a handful of round trips on a single connection.
    """

    def __init__(self) -> None:
        self._pending: dict[str, list[asyncio.Future]] = {}
        self._task: asyncio.Task | None = None

    async def read(self, name: str) -> tuple[BoardState, bool]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.setdefault(name, []).append(future)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        try:
            await self._serve_batches()
        finally:
            self._task = None  # a finished task would keep its (weakly keyed) event loop alive

    async def _serve_batches(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            names = list(batch)
            try:
                rows = await self._fetch(names)
            except Exception as exc:
                for futures in batch.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            for index, name in enumerate(names):
                (version, value, private), known = rows[2 * index], rows[2 * index + 1]
                result = (_state(name, version, value, private), bool(known) or version is not None)
                for future in batch[name]:
                    if not future.done():
                        future.set_result(result)

    @staticmethod
    async def _fetch(names: list[str]) -> list:
        for attempt in (1, 2):
            pipe = redis_async().pipeline(transaction=False)
            for name in names:
                pipe.hmget(board_key(name), *STATE_FIELDS)
                pipe.sismember(known_key(), name)
            try:
                return await pipe.execute()
            except (RedisConnectionError, RedisTimeoutError):
                if attempt == 2:
                    raise  # a pooled connection may be stale after a Redis restart: one fresh try only
        raise AssertionError("unreachable")


_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _BatchedReader] = weakref.WeakKeyDictionary()


def _reader() -> _BatchedReader:
    loop = asyncio.get_running_loop()
    reader = _readers.get(loop)
    if reader is None:
        reader = _readers[loop] = _BatchedReader()
    return reader


async def board_state_async(*, name: str) -> BoardState:
    """The board's current state (async); BoardNotFound when it has neither a record nor a value."""
    try:
        validate_name(name)
    except ValueError:
        raise BoardNotFound(f"No board named {name!r}.") from None
    state, exists = await _reader().read(name)
    if not exists and not await sync_to_async(_record_exists_then_close)(name):
        raise BoardNotFound(f"No board named {name!r}: notify it once, or create it in the admin.")
    return state


def _newest(name: str, events: list, current: BoardState) -> BoardState | None:
    """The newest published state among ``events`` newer than ``current``; None when the board must be re-read.

    That is on a GAP (messages may be lost), and on a version lower than ``current``'s: the board was
    deleted and recreated (its version restarted), which a re-read confirms (Consul's index reset).
    """
    newest = current
    for event in events:
        if event is GAP:
            return None
        if isinstance(event, Message):
            state = state_from_message(name, event.data)
            if state.version < current.version:
                return None
            if state.version > newest.version:
                newest = state
    return newest


async def _checked(state: BoardState, may_read: ReadCheck | None) -> BoardState:
    if may_read is not None:
        await may_read(state)
    return state


async def board_watch(
    *,
    name: str,
    since: int | None,
    timeout: float,  # noqa: ASYNC109
    may_read: ReadCheck | None = None,
    answer: Callable[[BoardState], bool] | None = None,
) -> BoardState:
    """The board's state once its version differs from ``since``, or the unchanged state after ``timeout``.

    With ``since`` None, or a version other than the board's (behind it, or ahead of it after a reset),
    answers at once; so does a parked watcher whose board is reset meanwhile. Otherwise it waits for the
    next notify; notifies landing meanwhile are summarised as the newest. It subscribes before reading,
    so a notify between the read and the wait is never lost; and it never answers "no change" from what
    it last heard: at the end of the wait it re-reads the board (while the hub is down it is also woken
    every SWITCHBOARD_HUB_DOWN_POLL seconds to re-read).
    ``may_read`` is awaited with the first state read (before anything is answered): it raises to refuse.

    ``answer(state)``, if given, is called by the hub's tick with a newer state heard live, while this waits:
    it answers the watcher there and then (True) or leaves it to the caller (False). Thousands of watchers
    woken by one notify are then answered in one pass of the tick, before any of their tasks runs; the
    state it answered with is returned.
    """
    if since is None:
        return await _checked(await board_state_async(name=name), may_read)
    deadline = time.monotonic() + timeout
    hub = get_hub()
    answered: BoardState | None = None
    async with hub.subscribe(board_channel(name)) as sub:
        state = await _checked(await board_state_async(name=name), may_read)

        def deliver(messages: list) -> bool:
            nonlocal answered
            newest = _newest(name, messages, state)
            if newest is not None and newest.version != since and answered is None and answer(newest):
                answered = newest
            return False  # queued as well: this waiter's task wakes (and returns what was answered)

        while state.version == since:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or hub.stopping:  # the end of the wait, or the server is shutting down
                return await board_state_async(name=name)
            if answer is not None:
                sub.attach(deliver)
            event = await sub.get(timeout=remaining)
            if answer is not None:
                sub.detach()
                if answered is not None:
                    return answered
            if event is None:
                return await board_state_async(name=name)
            newest = _newest(name, [event, *sub.drain()], state)
            if newest is None:  # a GAP or a reset: re-read (Redis itself away: wait on, re-read at the end)
                with contextlib.suppress(RedisConnectionError, RedisTimeoutError):
                    newest = await board_state_async(name=name)
            state = newest or state
        return state


async def board_stream(
    *,
    name: str,
    since: int | None,
    heartbeat: float,
    writer: DirectWriter | None = None,
    encode: Callable[[BoardState], bytes] | None = None,
) -> AsyncIterator[BoardState | None]:
    """The current state (unless its version is ``since``), then each newer one; None after ``heartbeat`` s of quiet.

    With a ``writer`` (switchboard.fanout) and ``encode`` (a state's bytes on the wire), newer states
    heard live are written by the hub's tick straight to the client instead of being yielded; a GAP,
    a reset or a slow client wakes this generator, which re-reads and yields as without them.
    """
    hub = get_hub()
    async with hub.subscribe(board_channel(name)) as sub:
        state = await board_state_async(name=name)
        if since is None or state.version != since:
            yield state

        def deliver(messages: list) -> bool:
            nonlocal state
            newest = _newest(name, messages, state)
            if newest is None:
                return False  # a GAP or a reset: the generator re-reads
            if newest.version > state.version:
                if not writer.write(encode(newest)):
                    return False
                state = newest
            return True

        while not hub.stopping:  # the server is shutting down: end the stream (clients resume from its id)
            event, client_gone = await next_event_writing_direct(sub, timeout=heartbeat, writer=writer, deliver=deliver)
            if client_gone or hub.stopping:
                return  # the client is gone, or the server is shutting down
            if event is None:
                yield None
                continue
            newest = _newest(name, [event, *sub.drain()], state)
            if newest is None:  # a GAP or a reset: re-read, and say so if it changed
                try:
                    newest = await board_state_async(name=name)
                except (RedisConnectionError, RedisTimeoutError):
                    continue  # Redis itself is away: keep the stream open, the hub says when it is back
                if newest.version != state.version:
                    state = newest
                    yield state
            elif newest.version > state.version:
                state = newest
                yield state
