"""Context providers for boards pages (plain functions: they only read)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from boards.access import board_readable
from boards.conf import setting
from boards.selectors import BoardState, board_progress, board_watch_url, boards_states
from switchboard.providers import Provider, providers_from_setting


def board_list(request: HttpRequest, **_: Any) -> dict[str, Any]:
    """Every board the viewer may read, with its current state (one Redis round trip for all)."""
    from boards.models import Board

    boards = list(Board.objects.all())
    states = boards_states(names=[board.name for board in boards])
    rows = [
        {"board": board, "state": states[board.name], "progress": board_progress(states[board.name])}
        for board in boards
        if board_readable(user=request.user, state=states[board.name])
    ]
    return {"board_rows": rows}


def board_header(request: HttpRequest, *, board, **_: Any) -> dict[str, Any]:
    """The board record (title, description)."""
    return {"board": board}


def board_value(request: HttpRequest, *, state: BoardState, **_: Any) -> dict[str, Any]:
    """The current value, its progress bar if it has a percent, and where the browser long-polls next."""
    return {
        "state": state,
        "progress": board_progress(state),
        "next_update_url": board_watch_url(name=state.name, since=state.version),
    }


def notify_form(request: HttpRequest, *, board, **_: Any) -> dict[str, Any]:
    """Whether the viewer may post a value (staff or the boards.notify_board permission)."""
    user = request.user
    allowed = user.is_authenticated and (user.is_staff or user.has_perm("boards.notify_board"))
    return {"can_notify": allowed}


def index_providers() -> list[Provider]:
    """The boards index's providers (BOARDS_INDEX_PROVIDERS)."""
    return providers_from_setting("BOARDS_INDEX_PROVIDERS", setting("BOARDS_INDEX_PROVIDERS"))


def board_providers() -> list[Provider]:
    """A board page's providers (BOARDS_BOARD_PROVIDERS)."""
    return providers_from_setting("BOARDS_BOARD_PROVIDERS", setting("BOARDS_BOARD_PROVIDERS"))
