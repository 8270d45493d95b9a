"""switchboard.fanout: direct writes run the ASGI send in place, and keep chunks in order when it must wait."""

from __future__ import annotations

import asyncio

from switchboard.fanout import DirectWriter


async def test_a_send_that_completes_at_once_is_written_in_place_without_a_task():
    sent: list[bytes] = []

    async def send(message: dict) -> None:
        sent.append(message["body"])

    writer = DirectWriter(send)
    tasks_before = len(asyncio.all_tasks())
    assert writer.write(b"a") and writer.write(b"b")
    assert sent == [b"a", b"b"]  # already written: no loop turn needed
    assert len(asyncio.all_tasks()) == tasks_before
    assert await writer.settle()


async def test_a_send_that_waits_finishes_in_a_task_and_later_chunks_are_refused_until_it_has():
    sent: list[bytes] = []
    writable = asyncio.Event()

    async def send(message: dict) -> None:
        if not writable.is_set():
            await writable.wait()  # flow control: the client reads slowly
        sent.append(message["body"])

    writer = DirectWriter(send)
    assert writer.write(b"first")  # accepted: it is being sent
    assert not writer.write(b"second")  # refused: the view's task must take over, after the first
    assert sent == []
    asyncio.get_running_loop().call_later(0.05, writable.set)
    assert await writer.settle()
    assert sent == [b"first"]
    assert writer.write(b"second")
    assert sent == [b"first", b"second"]


async def test_a_failing_send_marks_the_stream_failed():
    async def send(message: dict) -> None:
        raise OSError("client gone")

    writer = DirectWriter(send)
    assert not writer.write(b"x")
    assert writer.failed
    assert not await writer.settle()


class _PlainAwaitable:
    """What granian's ASGI send returns: an awaitable whose iterator has no send() (the write already happened)."""

    def __await__(self):
        return self

    def __next__(self):
        raise StopIteration


async def test_an_awaitable_without_send_method_works_too():
    sent: list[bytes] = []

    def send(message: dict) -> _PlainAwaitable:
        sent.append(message["body"])
        return _PlainAwaitable()

    writer = DirectWriter(send)
    assert writer.write(b"a")
    assert sent == [b"a"] and not writer.failed
