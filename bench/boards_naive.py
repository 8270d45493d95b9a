"""The baseline for bench_boards.py: the seed's naive watch, one Redis pub/sub connection per watcher.

``install()`` swaps it in for boards.views.board_watch inside the benchmark's server process only.
Each watcher opens its own pub/sub connection and reads the board on its own (no hub, no batching);
everything else (URL, view, lean ASGI path, JSON answer) is the same as the real design.
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from django.conf import settings

from boards.selectors import BoardState, state_from_message
from boards.services import BoardNotFound, board_channel, board_key

waiting = 0
_clients: dict[asyncio.AbstractEventLoop, aioredis.Redis] = {}


def _client() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        _clients[loop] = aioredis.Redis.from_url(settings.REDIS_URL, max_connections=1_000_000)  # no cap: naive
    return _clients[loop]


async def naive_board_watch(*, name: str, since: int | None, timeout: float) -> BoardState:
    """Subscribe on a connection of this watcher's own, read, wait for a message newer than ``since``."""
    global waiting
    client = _client()
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(board_channel(name))
        version, value = await client.hmget(board_key(name), "version", "value")
        if version is None and value is None:
            raise BoardNotFound(name)
        state = BoardState(name, int(version or 0), value.decode() if value else None)
        deadline = time.monotonic() + timeout
        waiting += 1
        try:
            while since is not None and state.version == since:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
                if message is not None:
                    newer = state_from_message(name, message["data"])
                    if newer.version > state.version:
                        state = newer
        finally:
            waiting -= 1
        return state
    finally:
        await pubsub.aclose()


def install() -> None:
    """Make the boards watch view use the naive watch."""
    import boards.views

    boards.views.board_watch = naive_board_watch
