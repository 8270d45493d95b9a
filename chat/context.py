"""Context providers for chat pages (plain functions; each page is an ordered list of them)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from chat.conf import setting
from chat.models import Room
from chat.selectors import messages_recent, rooms_list
from switchboard.providers import Provider, providers_from_setting


def room_list(request: HttpRequest, **_: Any) -> dict[str, Any]:
    """Every room, for the chat index."""
    return {"rooms": rooms_list()}


def room_create_form(request: HttpRequest, *, form_errors: list[str] | None = None, **_: Any) -> dict[str, Any]:
    """Whether the viewer may create a room, and the errors of a refused attempt."""
    return {
        "can_create_room": request.user.has_perm("chat.add_room"),
        "create_errors": form_errors or [],
    }


def room_header(request: HttpRequest, *, room: Room, **_: Any) -> dict[str, Any]:
    """The room and the URLs its page's script talks to."""
    return {
        "room": room,
        "urls": {
            "messages": reverse("chat:messages", args=[room.slug]),
            "stream": reverse("chat:stream", args=[room.slug]),
            "poll": reverse("chat:poll", args=[room.slug]),
        },
    }


def recent_messages(request: HttpRequest, *, room: Room, **_: Any) -> dict[str, Any]:
    """The last CHAT_ROOM_HISTORY messages and the seq the live stream resumes after."""
    recent = messages_recent(room=room, limit=setting("CHAT_ROOM_HISTORY"))
    return {"chat_messages": recent, "last_seq": recent[-1].seq if recent else 0}


def post_form(request: HttpRequest, *, post_error: str = "", **_: Any) -> dict[str, Any]:
    """Whether the viewer may post, the text limit, and why the last post was refused (if it was)."""
    return {"can_post": request.user.is_authenticated, "max_text": setting("CHAT_MAX_TEXT"), "post_error": post_error}


def index_providers() -> list[Provider]:
    """The chat index's providers (CHAT_INDEX_PROVIDERS)."""
    return providers_from_setting("CHAT_INDEX_PROVIDERS", setting("CHAT_INDEX_PROVIDERS"))


def room_providers() -> list[Provider]:
    """The room page's providers (CHAT_ROOM_PROVIDERS)."""
    return providers_from_setting("CHAT_ROOM_PROVIDERS", setting("CHAT_ROOM_PROVIDERS"))
