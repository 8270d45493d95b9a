"""Background-job entry points (rq, django-rq): post to a room from a worker process."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from chat.selectors import room_get
from chat.services import message_post


def message_post_task(*, room: str, text: str, username: str | None = None) -> int:
    """Post ``text`` to the room with slug ``room`` (as ``username``, else a system message); the seq."""
    author = get_user_model().objects.get_by_natural_key(username) if username else None
    return message_post(room=room_get(slug=room), author=author, text=text).seq
