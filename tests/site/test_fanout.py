"""switchboard.fanout: direct writes run the ASGI send in place, and keep chunks in order when it must wait."""

from __future__ import annotations

import asyncio

from switchboard.fanout import DirectWriter, next_event_writing_direct


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


class _RecordingSubscription:
    """A hub subscription that records what is done to it and answers ``get`` with ``event``."""

    def __init__(self, event: object) -> None:
        self.event, self.calls = event, []

    def attach(self, deliver) -> None:
        self.calls.append(("attach", deliver))

    def detach(self) -> None:
        self.calls.append(("detach",))

    async def get(self, timeout: float | None = None) -> object:
        self.calls.append(("get", timeout))
        return self.event


async def test_next_event_attaches_the_deliverer_only_while_waiting_and_settles_before_answering():
    sub = _RecordingSubscription(event="event")
    sent: list[bytes] = []
    writable = asyncio.Event()

    async def send(message: dict) -> None:
        await writable.wait()
        sent.append(message["body"])

    def deliver(messages: list) -> bool:
        return True

    writer = DirectWriter(send)
    assert writer.write(b"pending")  # still being sent when the event arrives
    asyncio.get_running_loop().call_later(0.05, writable.set)
    assert await next_event_writing_direct(sub, timeout=2.5, writer=writer, deliver=deliver) == ("event", False)
    assert sub.calls == [("attach", deliver), ("get", 2.5), ("detach",)]
    assert sent == [b"pending"]  # settled before answering


async def test_next_event_without_a_writer_is_a_plain_get_and_with_a_failed_one_says_the_client_is_gone():
    sub = _RecordingSubscription(event=None)
    assert await next_event_writing_direct(sub, timeout=1.0, writer=None, deliver=lambda messages: True) == (
        None,
        False,
    )
    assert sub.calls == [("get", 1.0)]

    async def send(message: dict) -> None:
        raise OSError("client gone")

    writer = DirectWriter(send)
    assert not writer.write(b"x")
    assert await next_event_writing_direct(sub, timeout=1.0, writer=writer, deliver=lambda messages: True) == (
        None,
        True,
    )
