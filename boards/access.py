"""Who may read a board: public boards everyone; private ones whom BOARDS_READ_PERMISSION allows.

BOARDS_READ_PERMISSION is the dotted path of a callable ``(user, board) -> bool`` where ``board`` is the
board's name; it is asked only about private boards, imported when used (cached, cleared on
setting_changed). The default, ``boards.access.staff_only``, lets staff read them. A site wires in the
apps that own private boards (the jobs app's ``jobs.interface.board_readable`` for ``job-<id>`` boards).

The lean ASGI path (boards.asgi) has no session or authentication middleware: ``request_user`` reads the
session from its cookie and looks the user up itself, once per request, and only for a private board.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.module_loading import import_string

from boards.conf import setting
from boards.selectors import BoardState, lean_db_done
from boards.services import BoardForbidden

__all__ = ["board_readable", "request_user", "staff_only", "state_check"]


def staff_only(user: Any, board: str) -> bool:
    """The default read permission of private boards: staff only."""
    return bool(user is not None and user.is_authenticated and user.is_staff)


@functools.cache
def _permission(path: str) -> Callable[[Any, str], bool]:
    return import_string(path)


@receiver(setting_changed)
def _forget_permission(*, setting: str, **kwargs: Any) -> None:
    if setting == "BOARDS_READ_PERMISSION":
        _permission.cache_clear()


def board_readable(*, user: Any, state: BoardState) -> bool:
    """May ``user`` read the board whose current state is ``state``?"""
    if not state.private:
        return True
    return bool(_permission(setting("BOARDS_READ_PERMISSION"))(user, state.name))


def request_user(request: HttpRequest) -> Any:
    """The request's user: request.user under the middleware, else from the session cookie (the lean path)."""
    user = getattr(request, "user", None)
    if user is not None:
        return user
    from django.contrib.auth import get_user

    engine = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    request.session = engine(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    request.user = get_user(request)
    return request.user


def _check_then_close(request: HttpRequest, state: BoardState) -> None:
    try:
        user = request_user(request)
        if not board_readable(user=user, state=state):
            raise BoardForbidden(
                f"Board {state.name!r} is private: only users it belongs to may read it.",
                signed_in=bool(user.is_authenticated),
            )
    finally:
        lean_db_done()


async def state_check(request: HttpRequest, state: BoardState) -> None:
    """Raise BoardForbidden unless the request's user may read the board (no work at all for a public board)."""
    if state.private:
        await sync_to_async(_check_then_close)(request, state)
