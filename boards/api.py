"""Boards' JSON API (a django-ninja Router a host mounts, see switchboard.api): boards, watch, stream, notify.

The watch (long-poll) and the stream (SSE) are served by the lean views of boards.views (pre-encoded bodies
shared by every watcher); the operations here describe them in the schema and add the API's token auth.
A private board is listed and read only by whom BOARDS_READ_PERMISSION allows (boards.access).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from ninja import Field, Query, Router, Schema
from redis.exceptions import RedisError

from boards import views
from boards.access import board_readable
from boards.models import Board
from boards.selectors import board_state, boards_states
from boards.services import BoardError, BoardNotFound, ValueTooLarge, board_notify
from switchboard.api import AUTH, OPTIONAL, cursor_page, errors, page_schema
from switchboard.http import BadRequest, json_body

router = Router(tags=["boards"], auth=OPTIONAL)
NO_BODY = object()


class BoardOut(Schema):
    name: str
    title: str
    private: bool
    version: int = Field(description="The value's version: 0 before the first notify, then 1, 2, 3...")
    value: Any = Field(description="The current JSON value (null before the first notify).")


class WatchOut(Schema):
    value: Any
    ts: int = Field(description="The value's version; send it back as ?ts= to wait for the next one.")
    next_update_url: str


class NotifyOut(Schema):
    name: str
    ts: int = Field(description="The version the value got.")


def _board_json(name: str, title: str, state: Any) -> dict[str, Any]:
    return {"name": name, "title": title, "private": state.private, "version": state.version, "value": state.value}


def _unavailable() -> BadRequest:
    return BadRequest(views.UNAVAILABLE, code="unavailable", status=503)


@router.get("/", response=errors(400, 401, 503, _200=page_schema(BoardOut)), operation_id="boards_list")
def boards_list(request: HttpRequest, cursor: str | None = None, limit: int | None = None):
    """The boards you may read with their current value and version, by name (a page may skip private ones)."""
    try:
        page = cursor_page(Board.objects.all(), key="name", cursor=cursor, limit=limit)
        states = boards_states(names=[board.name for board in page["items"]])
    except RedisError:
        raise _unavailable() from None
    page["items"] = [
        _board_json(board.name, board.title, states[board.name])
        for board in page["items"]
        if board_readable(user=request.user, state=states[board.name])
    ]
    return page


@router.get("/{name}", response=errors(401, 403, 404, 503, _200=BoardOut), operation_id="boards_get")
def board_detail(request: HttpRequest, name: str):
    """One board's current value and version."""
    try:
        state = board_state(name=name)
    except BoardNotFound as exc:
        raise BadRequest(str(exc), code="not_found", status=404) from None
    except RedisError:
        raise _unavailable() from None
    if not board_readable(user=request.user, state=state):
        if request.user.is_authenticated:
            raise BadRequest(
                f"Board {name!r} is private: only users it belongs to may read it.", code="forbidden", status=403
            )
        raise BadRequest(f"Board {name!r} is private: sign in or send a token.", code="login_required", status=401)
    board = Board.objects.filter(name=name).first()
    return _board_json(name, board.title if board else "", state)


@router.get(
    "/{name}/watch",
    response=errors(400, 401, 403, 404, 429, 503, _200=WatchOut),
    operation_id="boards_watch",
    description=(
        "Long-poll: the value once its version differs from `ts`, or the unchanged value at the timeout. "
        "Served by the same lean view as /boards/<name>/watch (one pre-encoded body for every watcher)."
    ),
)
async def watch(
    request: HttpRequest,
    name: str,
    ts: int | None = Query(None, ge=0, description="The version the client has."),
    timeout: float | None = Query(None, ge=0, description="Seconds to wait (capped at BOARDS_WATCH_TIMEOUT_MAX)."),  # noqa: ASYNC109 - a query parameter
) -> HttpResponseBase:
    """Wait for the board's next value."""
    return await views.watch(request, name)


@router.get(
    "/{name}/stream",
    response=errors(400, 401, 403, 404, 429, 503),
    operation_id="boards_stream",
    openapi_extra={
        "responses": {
            200: {
                "description": "Server-Sent Events: `id: <version>` and `data: <value JSON>` per value, heartbeats.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        }
    },
    description="Server-Sent Events; resumes after Last-Event-ID. Served by the lean view of /boards/<name>/stream.",
)
async def stream(request: HttpRequest, name: str) -> HttpResponseBase:
    """The board's values as they come."""
    return await views.stream(request, name)


@router.post(
    "/{name}/notify",
    auth=AUTH,
    response=errors(400, 401, 403, 413, 503, _200=NotifyOut),
    operation_id="boards_notify",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"description": 'Any JSON value, e.g. {"percent": 40}.'}}},
        }
    },
)
def notify(request: HttpRequest, name: str):
    """Set the board's value (staff, or the boards.notify_board permission); answers its new version."""
    if not (request.user.is_staff or request.user.has_perm("boards.notify_board")):
        message = "Only staff or users with the boards.notify_board permission may notify boards."
        raise BadRequest(message, code="forbidden", status=403)
    value = json_body(request, empty=NO_BODY)
    if value is NO_BODY:
        raise BadRequest(views.BODY_HINT, code="bad_json")
    try:
        version = board_notify(name=name, value=value)
    except ValueTooLarge as exc:
        raise BadRequest(str(exc), code="too_large", status=413) from None
    except BoardError as exc:
        raise BadRequest(str(exc), code="invalid_board") from None
    except RedisError:
        raise _unavailable() from None
    return JsonResponse({"name": name, "ts": version}, headers=views.NO_STORE)
