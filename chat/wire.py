"""What travels on Redis and to browsers: the room channel, the JSON envelope, SSE frames.

The envelope of a message is encoded ONCE (when it is posted, or read from the database) and the
bytes published on Redis are reused as the SSE ``data:`` line. A process that receives a publish
decodes it once (``envelope_from_bytes`` is cached on the bytes object the hub hands to every
local subscriber), so per-subscriber work is a dictionary hit and a write.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from chat.conf import setting
from chat.models import Message


def room_channel(slug: str) -> str:
    """The Redis pub/sub channel a room's messages are published on."""
    return f"{setting('CHAT_CHANNEL_PREFIX')}{slug}"


class Envelope:
    """A message as published: its sequence number, its JSON bytes and its SSE frame."""

    __slots__ = ("_sse", "data", "seq")

    def __init__(self, seq: int, data: bytes) -> None:
        self.seq = seq
        self.data = data
        self._sse: bytes | None = None

    @property
    def sse(self) -> bytes:
        """The Server-Sent Events frame of this message (``id:`` is the sequence number)."""
        if self._sse is None:
            self._sse = b"id: %d\ndata: %s\n\n" % (self.seq, self.data)
        return self._sse

    def as_dict(self) -> dict[str, Any]:
        """The envelope decoded (room, seq, author, text, created)."""
        return json.loads(self.data)

    def __repr__(self) -> str:
        return f"Envelope(seq={self.seq})"


def message_dict(message: Message) -> dict[str, Any]:
    """The JSON-able envelope of a stored message (room, seq, author, text, created)."""
    return {
        "room": message.room.slug,
        "seq": message.seq,
        "author": message.author.get_username() if message.author_id else None,
        "text": message.text,
        "created": message.created.isoformat(),
    }


def envelope_encode(message: Message) -> Envelope:
    """The envelope of a stored message, encoded once."""
    data = json.dumps(message_dict(message), ensure_ascii=False, separators=(",", ":")).encode()
    return Envelope(message.seq, data)


@functools.lru_cache(maxsize=4096)
def envelope_from_bytes(data: bytes) -> Envelope | None:
    """The envelope of a payload heard on Redis (cached: every local subscriber gets the same bytes).

    None for a payload that is not a chat envelope (someone else published on the channel).
    """
    try:
        seq = json.loads(data)["seq"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None
    return Envelope(seq, data)
