"""1,000 SSE readers of one room in one process, served by one uvicorn: each gets 1..N exactly once, in order.

The readers are raw asyncio streams (one event loop in a thread); messages are posted while they
connect and after, so history catch-up, the hand-over to live delivery and the hub's direct writes
(switchboard.fanout) all run. The idle check is 120 s and every message must arrive within 30 s: the readers
connect within 60 s, so without the hub no message could reach them before their first idle check, 60 s or
more after it was posted (and the readers give up at 120 s). What the readers get, they got through the hub;
the 30 s bound is generous for a machine under load (it measured 10.2 s once at a load average near 8).
"""

from __future__ import annotations

import asyncio
import re
import resource
import threading
import time
from urllib.parse import urlsplit

import pytest

from chat.services import message_post

READERS = 1000
MESSAGES = 40
ID = re.compile(rb"^id: (\d+)$", re.MULTILINE)


@pytest.fixture
def many_streams(chat_settings):
    chat_settings.CHAT_IDLE_CHECK = 120.0
    chat_settings.SWITCHBOARD_MAX_STREAMS_PER_CLIENT = READERS + 10
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * READERS + 1000))  # each reader: a client and a server socket
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    yield chat_settings
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def read_stream(url: str, ids: list[int], arrived: list[float], until: int, connected: list) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n", 1)[0], head
    connected.append(1)
    buffer = b""
    try:
        while not ids or ids[-1] < until:
            data = await reader.read(65536)
            if not data:
                raise AssertionError(f"the stream ended after {ids[-1:]}")
            buffer += data
            # Chunked transfer framing is left in: an id line is still a line of its own.
            for match in ID.finditer(buffer[: buffer.rfind(b"\n") + 1]):
                ids.append(int(match.group(1)))
                arrived.append(time.monotonic())
            buffer = buffer[buffer.rfind(b"\n") + 1 :]
    finally:
        writer.close()


@pytest.mark.django_db(transaction=True)
def test_a_thousand_sse_readers_of_one_room_each_get_every_message_once_in_order(many_streams, live_asgi, room):
    url = f"{live_asgi}/chat/{room.slug}/stream"
    ids: list[list[int]] = [[] for _ in range(READERS)]
    arrived: list[list[float]] = [[] for _ in range(READERS)]
    connected: list[int] = []
    posted: dict[int, float] = {}
    outcome: list[BaseException | None] = []

    def readers() -> None:
        async def main() -> None:
            tasks = [read_stream(url, ids[i], arrived[i], MESSAGES, connected) for i in range(READERS)]
            await asyncio.wait_for(asyncio.gather(*tasks), 120)

        try:
            asyncio.run(main())
            outcome.append(None)
        except BaseException as exc:  # reported by the test thread
            outcome.append(exc)

    thread = threading.Thread(target=readers, daemon=True)
    thread.start()
    for n in range(1, MESSAGES + 1):
        if n == MESSAGES // 4:  # a quarter posted while readers connect (history), the rest live
            deadline = time.monotonic() + 60
            while len(connected) < READERS and time.monotonic() < deadline and not outcome:
                time.sleep(0.05)
            assert len(connected) == READERS, f"only {len(connected)} readers connected"
        message = message_post(room=room, author=None, text=f"m{n}")
        posted[message.seq] = time.monotonic()
        time.sleep(0.05)
    thread.join(timeout=150)
    assert outcome == [None], outcome
    for got, times in zip(ids, arrived, strict=True):
        assert got == list(range(1, MESSAGES + 1))
        # Only the messages posted once every reader was connected: the earlier ones wait for the connect.
        slowest = max(at - posted[seq] for seq, at in zip(got, times, strict=True) if seq >= MESSAGES // 4)
        assert slowest < 30.0, f"a message took {slowest:.1f} s: live delivery did not work"


@pytest.mark.django_db(transaction=True)
def test_a_jump_heard_by_the_direct_writer_is_backfilled_at_once_not_skipped(chat_settings, live_asgi, room):
    from tests.chat.conftest import SSEReader, wait_for_waiters

    chat_settings.CHAT_IDLE_CHECK = 30.0  # what the reader gets in time, the jump check got it
    message_post(room=room, author=None, text="one")
    reader = SSEReader(f"{live_asgi}/chat/{room.slug}/stream")
    result: dict = {}

    def run() -> None:
        try:
            result["events"] = reader.read(until_seq=3, timeout=20)
            result["at"] = time.monotonic()
        except BaseException as exc:  # reported by the test thread
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not reader.events:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    wait_for_waiters(1)
    time.sleep(0.2)  # the reader follows live: the hub's tick writes to it
    message_post(room=room, author=None, text="never published", publish=False)
    posted_at = time.monotonic()
    message_post(room=room, author=None, text="three")  # heard: seq 3 after 1, a jump
    thread.join(timeout=25)
    assert "error" not in result, result.get("error")
    assert [seq for seq, _ in result["events"]] == [1, 2, 3]
    assert result["at"] - posted_at < 10.0, "the jump waited for the idle check"
