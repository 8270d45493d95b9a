"""Chat reads: rooms, history pages, and the live reader that follows a room without gaps."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection

from chat.conf import setting
from chat.models import Message, Room
from chat.wire import Envelope, envelope_encode, envelope_from_bytes, room_channel
from switchboard.fanout import DirectWriter, next_event_writing_direct
from switchboard.hub import GAP, get_hub


def room_get(*, slug: str) -> Room:
    """The room with this slug (Room.DoesNotExist otherwise)."""
    return Room.objects.get(slug=slug)


def rooms_list() -> list[Room]:
    """Every room, by slug."""
    return list(Room.objects.order_by("slug"))


def messages_after(*, room: Room, after_seq: int, limit: int) -> list[Message]:
    """Up to ``limit`` messages of the room with seq > after_seq, oldest first."""
    return list(
        Message.objects.filter(room=room, seq__gt=after_seq).select_related("author", "room").order_by("seq")[:limit]
    )


def messages_recent(*, room: Room, limit: int) -> list[Message]:
    """The room's last ``limit`` messages, oldest first."""
    newest = Message.objects.filter(room=room).select_related("author", "room").order_by("-seq")[:limit]
    return list(reversed(newest))


def envelopes_after(*, room: Room, after_seq: int, limit: int) -> list[Envelope]:
    """Like messages_after, as encoded envelopes."""
    return [envelope_encode(m) for m in messages_after(room=room, after_seq=after_seq, limit=limit)]


async def db_call(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Run a database read in a worker thread and release its connection afterwards.

    Readers are long-lived and many; the pool's threads must not each pin a connection.
    """

    def call() -> Any:
        try:
            return fn(**kwargs)
        finally:
            connection.close()

    return await sync_to_async(call, thread_sensitive=False)()


def room_last_seq(*, pk: int) -> int:
    """The sequence number of the room's last message (0 when none)."""
    return Room.objects.filter(pk=pk).values_list("last_seq", flat=True).first() or 0


_last_seqs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, tuple[float, asyncio.Future]]] = (
    weakref.WeakKeyDictionary()
)


async def room_last_seq_shared(*, room: Room, max_age: float) -> int:
    """room_last_seq, read at most once per ``max_age`` seconds per room by all of this process's readers.

    The idle check of 10,000 readers would otherwise be 10,000 database reads every CHAT_IDLE_CHECK
    seconds (measured: 82 % of the server's CPU at 10,000 SSE subscribers over 100 quiet rooms).
    """
    loop = asyncio.get_running_loop()
    cache = _last_seqs.setdefault(loop, {})
    entry = cache.get(room.pk)
    if entry is None or loop.time() - entry[0] > max_age or (entry[1].done() and entry[1].exception()):
        entry = cache[room.pk] = (loop.time(), asyncio.ensure_future(db_call(room_last_seq, pk=room.pk)))
    return await asyncio.shield(entry[1])


async def message_batches_follow(
    *, room: Room, after: int, keepalive: float | None = None, writer: DirectWriter | None = None
) -> AsyncIterator[list[Envelope]]:
    """Every message of the room after seq ``after``, in order, each once, then live; in batches.

    Subscribes FIRST (the hub returns once Redis confirmed it), then reads history, then delivers
    what was heard meanwhile minus what history covered. A jump in sequence, a GAP from the hub
    (reconnect, overflow) or CHAT_IDLE_CHECK seconds of silence make it read the database from
    its last sequence, so a lost publish delays a message, never loses it. With ``keepalive`` it
    yields an empty batch after that many seconds without output (for heartbeats).

    With a ``writer`` (switchboard.fanout), live messages that follow on from the last one sent are
    written by the hub's tick straight to the client as SSE frames instead of being yielded; anything
    else (a jump, a GAP, a slow client) wakes this generator, which catches up as above.
    """
    page = setting("CHAT_MAX_PAGE")
    idle = float(setting("CHAT_IDLE_CHECK"))
    last = after
    hub = get_hub()
    loop = asyncio.get_running_loop()
    last_output = last_heard = loop.time()

    async def catch_up() -> AsyncIterator[list[Envelope]]:
        # Page by page, so a reader far behind never holds its whole backlog in memory.
        nonlocal last
        while True:
            batch = await db_call(envelopes_after, room=room, after_seq=last, limit=page)
            if batch:
                last = batch[-1].seq
                yield batch
            if len(batch) < page:
                return

    def deliver(messages: list) -> bool:
        # In the hub's tick: the frames that follow on from ``last``, written at once; False hands over to the task.
        nonlocal last, last_output, last_heard
        frames = []
        seq = last
        for message in messages:
            envelope = envelope_from_bytes(message.data)  # decoded once per process (cached on the bytes)
            if envelope is None or envelope.seq <= seq:
                continue
            if envelope.seq != seq + 1:
                return False  # a jump: the task reads the database
            frames.append(envelope.sse)
            seq = envelope.seq
        last_heard = loop.time()
        if not frames:
            return True
        if not writer.write(frames[0] if len(frames) == 1 else b"".join(frames)):
            return False
        last = seq
        last_output = last_heard
        return True

    async with hub.subscribe(room_channel(room.slug)) as sub:
        async for batch in catch_up():
            yield batch
        last_output = last_heard = loop.time()
        while not hub.stopping:  # the server is shutting down: end (a reader resumes from its last seq)
            wait = max(0.0, idle - (loop.time() - last_heard))
            if keepalive is not None:
                wait = max(0.0, min(wait, keepalive - (loop.time() - last_output)))
            event, client_gone = await next_event_writing_direct(sub, timeout=wait, writer=writer, deliver=deliver)
            if client_gone or hub.stopping:
                return  # the client is gone, or the server is shutting down
            quiet = event is None and loop.time() - last_heard >= idle
            events = [event, *sub.drain()] if event is not None else [None]
            batch: list[Envelope] = []
            need_db = False
            if quiet:  # nothing heard for a while: was anything stored that was not published?
                last_heard = loop.time()
                need_db = await room_last_seq_shared(room=room, max_age=idle / 4) > last
            for item in events:
                if item is None:
                    continue
                if item is GAP:
                    need_db = True
                    continue
                last_heard = loop.time()
                envelope = envelope_from_bytes(item.data)
                if envelope is None or envelope.seq <= last:
                    continue  # not ours, or already delivered (history covered it)
                if envelope.seq != last + 1 or need_db:
                    need_db = True  # a jump: messages were published we did not hear
                    continue
                batch.append(envelope)
                last = envelope.seq
            if batch:
                yield batch
                last_output = loop.time()
            if need_db:
                last_heard = loop.time()
                async for caught in catch_up():
                    yield caught
                    last_output = loop.time()
            if not batch and keepalive is not None and loop.time() - last_output >= keepalive:
                yield []
                last_output = loop.time()


async def messages_follow(*, room: Room, after: int) -> AsyncIterator[Envelope]:
    """Every message of the room after seq ``after``, in order, each once: history, then live."""
    async for batch in message_batches_follow(room=room, after=after):
        for envelope in batch:
            yield envelope
