"""Long-polls and SSE streams bound how many connections one client holds: 429 beyond, the slot back once it leaves."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from boards.services import board_notify
from chat.services import room_create
from switchboard import limits

LIMIT = 2
CLIENT = "addr-127.0.0.1"  # anonymous clients count by address


def held() -> int:
    return limits._open_streams.get(CLIENT, 0)


async def request(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def status(reader: asyncio.StreamReader) -> int:
    line = await asyncio.wait_for(reader.readline(), 10)
    return int(line.split()[1])


async def until(condition, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


@pytest.fixture
def names(transactional_db):
    room = room_create(slug=f"sec-{uuid.uuid4().hex[:8]}").slug
    board = f"sec-{uuid.uuid4().hex[:12]}"
    board_notify(name=board, value={"percent": 1})
    return room, board


WAITING = {  # a request that holds its connection open, and one that answers at once
    "chat poll": ("/chat/{room}/poll?timeout=30", "/chat/{room}/poll?timeout=0"),
    "chat stream": ("/chat/{room}/stream", "/chat/{room}/stream"),
    "boards watch": ("/boards/{board}/watch?ts=1&timeout=30", "/boards/{board}/watch?ts=1&timeout=0"),
    "boards stream": ("/boards/{board}/stream", "/boards/{board}/stream"),
}


@pytest.mark.parametrize("kind", list(WAITING))
async def test_one_client_holds_at_most_the_limit_and_gets_its_slot_back_after_leaving(
    live_asgi, names, settings, kind
):
    settings.SWITCHBOARD_MAX_STREAMS_PER_CLIENT = LIMIT
    room, board = names
    port = int(live_asgi.rsplit(":", 1)[1])
    waiting, quick = (path.format(room=room, board=board) for path in WAITING[kind])
    assert held() == 0
    open_ = [await request(port, waiting) for _ in range(LIMIT)]
    await until(lambda: held() == LIMIT, f"the server holds {held()} of {LIMIT} streams")

    reader, writer = await request(port, waiting)  # limit + 1
    assert await status(reader) == 429
    body = await asyncio.wait_for(reader.read(), 10)
    assert b"too_many_streams" in body
    writer.close()

    _reader, leaving = open_.pop()
    leaving.close()  # a client that goes away gives its slot back
    await until(lambda: held() == LIMIT - 1, "the slot was not released after the client left")
    reader, writer = await request(port, quick)
    assert await status(reader) == 200
    writer.close()
    for _reader, writer in open_:
        writer.close()
    await until(lambda: held() == 0, "slots leaked")
