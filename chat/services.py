"""Chat writes: create rooms, post messages (stored, numbered in commit order, published after commit)."""

from __future__ import annotations

import logging
import re

import redis
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F

from chat.conf import setting
from chat.models import Message, Room
from chat.wire import envelope_encode, room_channel
from switchboard.connections import redis_sync
from switchboard.http import BadRequest, text_check
from switchboard.limits import RateResult, rate_limit_hit
from switchboard.metrics import counter_add

MESSAGES = "chat.messages"  # per-minute counter of posted messages

logger = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")


class ChatError(ValueError):
    """Input the chat app refuses; the message says why and what to do."""


def text_clean(text: object) -> str:
    """The message text stripped, or ChatError when it is not 1 to CHAT_MAX_TEXT characters."""
    if not isinstance(text, str):
        raise ChatError("Message text must be a string.")
    cleaned = text.strip()
    limit = setting("CHAT_MAX_TEXT")
    if not cleaned:
        raise ChatError("Message text is empty: write at least one character.")
    if len(cleaned) > limit:
        raise ChatError(f"Message text is {len(cleaned)} characters long: the limit is {limit}.")
    if "\x00" in cleaned:
        raise ChatError("Message text must not contain NUL characters.")
    try:
        text_check(cleaned)
    except BadRequest as exc:
        raise ChatError(str(exc)) from None
    return cleaned


def room_create(*, slug: str, title: str = "") -> Room:
    """Create a room; ChatError when the slug is malformed or taken."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise ChatError(
            f"Room name {slug!r} is invalid: use lowercase letters, digits, '-' and '_' (at most 50 characters)."
        )
    title = (title or "").strip() or slug
    if len(title) > 200:
        raise ChatError("Room title is too long: at most 200 characters.")
    try:
        with transaction.atomic():
            return Room.objects.create(slug=slug, title=title)
    except IntegrityError:
        raise ChatError(f"Room {slug!r} already exists: pick another name.")


def message_post(*, room: Room, author: AbstractBaseUser | None, text: str, publish: bool = True) -> Message:
    """Store a message with the room's next sequence number, then publish it once committed.

    The counter on the room row is incremented inside the posting transaction: the UPDATE locks
    the row (PostgreSQL) or the database (SQLite's immediate transactions), so writers of one room
    are serialised and sequence numbers are gap-free and in commit order. ``publish=False`` stores
    without publishing (live readers still get it at their next idle check).
    """
    cleaned = text_clean(text)
    with transaction.atomic():
        updated = Room.objects.filter(pk=room.pk).update(last_seq=F("last_seq") + 1)
        if not updated:
            raise ChatError(f"Room {room.slug!r} no longer exists.")
        seq = Room.objects.filter(pk=room.pk).values_list("last_seq", flat=True).get()
        message = Message.objects.create(room=room, seq=seq, author=author, text=cleaned)
        room.last_seq = seq
        if publish:
            envelope = envelope_encode(message)
            channel = room_channel(room.slug)
            transaction.on_commit(lambda: message_publish(channel=channel, data=envelope.data), robust=True)
        transaction.on_commit(lambda: counter_add(MESSAGES), robust=True)  # the operations page's rate
    return message


def message_post_rate_hit(*, ident: str) -> RateResult:
    """Count one post of ``ident`` against CHAT_POST_RATE per CHAT_POST_RATE_WINDOW s.

    One limit for the API and the pages. A Redis that does not answer lets the post through: posting works
    without Redis, the limit must not stop it.
    """
    limit, window = setting("CHAT_POST_RATE"), setting("CHAT_POST_RATE_WINDOW")
    return rate_limit_hit(scope="chat-post", ident=ident, limit=limit, window=window, fail_open=True)


def message_publish(*, channel: str, data: bytes) -> int | None:
    """Publish an envelope; a Redis failure is logged, not raised (readers catch up from the database)."""
    try:
        return redis_sync().publish(channel, data)
    except redis.RedisError as exc:
        logger.warning("chat: publish on %s failed (%s); readers will catch up from the database", channel, exc)
        return None
