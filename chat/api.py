"""Chat's JSON API (a django-ninja Router a host mounts, see switchboard.api): rooms, messages, post, poll, stream.

The poll and the stream are served by the lean views of chat.views (pre-encoded envelopes, the hub); the
operations here describe them in the schema and add the API's token auth in front.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from ninja import Field, Query, Router, Schema

from chat import views
from chat.models import Room
from chat.selectors import envelopes_after, room_get
from chat.services import ChatError, message_post, message_post_rate_hit
from chat.wire import envelope_encode
from switchboard.api import (
    AUTH,
    OPTIONAL,
    BodyIn,
    cursor_decode,
    cursor_encode,
    cursor_page,
    errors,
    page_limit,
    page_schema,
)
from switchboard.http import BadRequest
from switchboard.limits import client_ident, too_many_requests

router = Router(tags=["chat"], auth=OPTIONAL)


class RoomOut(Schema):
    slug: str
    title: str
    created: datetime
    last_seq: int = Field(description="The room's newest message number (0 when empty).")


class MessageOut(Schema):
    room: str
    seq: int = Field(description="The message's number in its room: 1, 2, 3... without gaps.")
    author: str | None
    text: str
    created: datetime


class MessageIn(BodyIn):
    text: str = Field(description="The message text (trimmed; not empty, at most CHAT_MAX_LENGTH characters).")


class PollOut(Schema):
    messages: list[MessageOut]
    next_url: str = Field(description="Where to poll next (the same room after the last message heard).")


def _room(slug: str) -> Room:
    try:
        return room_get(slug=slug)
    except Room.DoesNotExist:
        raise BadRequest(f"No room {slug!r}: see GET rooms for the room list.", code="not_found", status=404)


@router.get("/rooms", response=errors(400, 401, _200=page_schema(RoomOut)), operation_id="chat_rooms_list")
def rooms_list(request: HttpRequest, cursor: str | None = None, limit: int | None = None):
    """The rooms, by slug."""
    return cursor_page(Room.objects.all(), key="slug", cursor=cursor, limit=limit)


@router.get("/rooms/{slug}", response=errors(401, 404, _200=RoomOut), operation_id="chat_room_get")
def room_detail(request: HttpRequest, slug: str):
    """One room."""
    return _room(slug)


@router.get(
    "/rooms/{slug}/messages",
    response=errors(400, 401, 404, _200=page_schema(MessageOut)),
    operation_id="chat_messages_list",
)
def messages_list(request: HttpRequest, slug: str, cursor: str | None = None, limit: int | None = None):
    """The room's messages, oldest first, after the cursor (from the first message when there is none)."""
    room = _room(slug)
    after = 0 if cursor is None else cursor_decode(cursor)
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise BadRequest("The cursor is not one this API gave: send a next_cursor value as it is.", code="bad_cursor")
    size = page_limit(limit)
    envelopes = envelopes_after(room=room, after_seq=after, limit=size)
    next_cursor = json.dumps(cursor_encode(envelopes[-1].seq)) if len(envelopes) == size else "null"
    # The envelopes are already JSON: join their bytes instead of decoding and encoding again.
    body = b'{"items":[%s],"next_cursor":%s}' % (b",".join(e.data for e in envelopes), next_cursor.encode())
    return HttpResponse(body, content_type="application/json")


@router.post(
    "/rooms/{slug}/messages",
    auth=AUTH,
    response=errors(400, 401, 403, 404, 413, 422, 429, _201=MessageOut),
    operation_id="chat_message_post",
)
def message_create(request: HttpRequest, slug: str, body: MessageIn):
    """Post a message to the room (201 with it); at most CHAT_POST_RATE per CHAT_POST_RATE_WINDOW seconds."""
    room = _room(slug)
    limited = message_post_rate_hit(ident=client_ident(request))
    if not limited.allowed:
        return too_many_requests(limited, what="messages")
    try:
        message = message_post(room=room, author=request.user, text=body.text)
    except ChatError as exc:
        raise BadRequest(str(exc), code="invalid_text") from None
    return HttpResponse(envelope_encode(message).data, status=201, content_type="application/json")


@router.get(
    "/rooms/{slug}/poll",
    response=errors(400, 401, 404, 429, _200=PollOut),
    operation_id="chat_messages_poll",
    description=(
        "Long-poll: answers as soon as there is a message after `after`, or with none at the timeout. "
        "Served by the same lean view as /chat/<slug>/poll (pre-encoded envelopes)."
    ),
)
async def messages_poll(
    request: HttpRequest,
    slug: str,
    after: int = Query(0, ge=0, description="The last message number the client has."),
    timeout: float | None = Query(None, ge=0, description="Seconds to wait (at most CHAT_POLL_MAX_TIMEOUT)."),  # noqa: ASYNC109 - a query parameter
) -> HttpResponseBase:
    """Messages after ``after``, waiting for one."""
    return await views.poll(request, slug)


@router.get(
    "/rooms/{slug}/stream",
    response=errors(400, 401, 404, 429),
    operation_id="chat_messages_stream",
    openapi_extra={
        "responses": {
            200: {
                "description": "Server-Sent Events: `id: <seq>` and `data: <message JSON>` per message, heartbeats.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        }
    },
    description=(
        "Server-Sent Events; resumes after `after` or Last-Event-ID. Served by the lean view of /chat/<slug>/stream."
    ),
)
async def messages_stream(
    request: HttpRequest, slug: str, after: int = Query(0, ge=0, description="The last message number the client has.")
) -> HttpResponseBase:
    """The room's messages as they come."""
    return await views.stream(request, slug)
