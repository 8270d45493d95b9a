"""Boards views: parse input, call a service or selector, render."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.encoding import escape_uri_path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from redis.exceptions import RedisError

from boards.access import board_readable, state_check
from boards.asgi import SentDirectly, lean_request, response_messages
from boards.conf import setting
from boards.context import board_providers, index_providers
from boards.selectors import (
    BoardState,
    board_state,
    board_state_async,
    board_stream,
    board_watch,
)
from boards.services import BoardError, BoardForbidden, BoardNotFound, ValueTooLarge, board_notify
from switchboard.fanout import DirectWriter, direct_writer
from switchboard.http import BadRequest, json_body, json_view, method_not_allowed
from switchboard.http import json_error as shared_json_error
from switchboard.limits import TooManyStreams, sse_response, stream_slot, too_many_streams
from switchboard.providers import render_page

NO_BODY = object()
BODY_HINT = 'The body must be a JSON value, for example {"percent": 40, "message": "copying"}.'
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class BadParameter(BadRequest):
    """A query parameter or header is malformed; the message says which and why."""

    code = "bad_parameter"


def json_error(code: str, message: str, status: int) -> JsonResponse:
    """An API error in the shared shape {"error": code, "message": message}, never cached."""
    return shared_json_error(code, message, status=status, headers=NO_STORE)


UNAVAILABLE = "Boards are unavailable right now (Redis does not answer); retry shortly."


def forbidden(exc: BoardForbidden) -> JsonResponse:
    """403 for a signed-in user the board is not for; 401 when signing in might help."""
    if exc.signed_in:
        return json_error("forbidden", str(exc), 403)
    return json_error("login_required", f"{exc} Sign in first.", 401)


def read_refused(exc: BoardNotFound | BoardForbidden | RedisError) -> JsonResponse:
    """The answer of the long-poll and the stream when the board cannot be read: unknown, not yours, Redis away."""
    if isinstance(exc, BoardNotFound):
        return json_error("not_found", str(exc), 404)
    if isinstance(exc, BoardForbidden):
        return forbidden(exc)
    return json_error("unavailable", UNAVAILABLE, 503)


def parse_version(raw: str | None, *, what: str) -> int | None:
    """A version from a query parameter or header: None when absent, else a non-negative integer."""
    if raw is None or raw == "":
        return None
    try:
        version = int(raw)
    except ValueError:
        raise BadParameter(f"{what} must be an integer version, not {raw[:40]!r}.") from None
    if version < 0:
        raise BadParameter(f"{what} must be a version of 0 or more, not {version}.")
    return version


def parse_timeout(raw: str | None) -> float:
    """The long-poll timeout in seconds: the default when absent, capped at BOARDS_WATCH_TIMEOUT_MAX."""
    if raw is None or raw == "":
        return float(setting("BOARDS_WATCH_TIMEOUT"))
    try:
        timeout = float(raw)
    except ValueError:
        raise BadParameter(f"timeout must be a number of seconds, not {raw[:40]!r}.") from None
    if not timeout >= 0:  # also refuses NaN
        raise BadParameter(f"timeout must be 0 or more seconds, not {raw[:40]!r}.")
    return min(timeout, float(setting("BOARDS_WATCH_TIMEOUT_MAX")))


def watch_body(state: BoardState, path: str) -> bytes:
    """The long-poll answer, splicing the stored JSON text in as it is (no decode/encode). Its next_update_url
    is the path the watcher called with the new version: a script on the API (with a token) stays on the API,
    a page on the page's URL (with its session)."""
    return _watch_body(state.value_json, state.version, f"{escape_uri_path(path)}?ts={state.version}")


@functools.lru_cache(maxsize=256)  # thousands of watchers woken by one notify send the same bytes
def _watch_body(value_json: str | None, version: int, url: str) -> bytes:
    return f'{{"value":{value_json or "null"},"ts":{version},"next_update_url":{json.dumps(url)}}}'.encode()


# -- pages ------------------------------------------------------------------------------------------
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    """The list of boards with their current values."""
    return render_page(request, "boards/index.html", index_providers())


@require_safe
def board_page(request: HttpRequest, name: str) -> HttpResponse:
    """One board: its value server-rendered, then followed by a long-poll loop in the browser."""
    from boards.models import Board

    try:
        state = board_state(name=name)
    except BoardNotFound:
        raise Http404(f"No board named {name!r}.") from None
    if not board_readable(user=request.user, state=state):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise PermissionDenied(f"Board {name!r} is private.")
    board = Board.objects.filter(name=name).first() or Board(name=name)
    return render_page(request, "boards/board.html", board_providers(), board=board, state=state)


# -- JSON API ---------------------------------------------------------------------------------------
@csrf_exempt  # read-only: other methods only get a 405
async def watch(request: HttpRequest, name: str) -> HttpResponse:
    """Long-poll: the board's value once its version differs from ?ts=, or the unchanged value at the timeout."""
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(["GET"])
    try:
        since = parse_version(request.GET.get("ts"), what="ts")
        timeout = parse_timeout(request.GET.get("timeout"))
    except BadParameter as exc:
        return json_error(exc.code, str(exc), 400)
    direct = DirectAnswer.for_request(request)
    try:
        async with stream_slot(request):
            state = await board_watch(
                name=name,
                since=since,
                timeout=timeout,
                may_read=functools.partial(state_check, request),
                answer=direct,
            )
    except TooManyStreams:
        return too_many_streams()
    except (BoardNotFound, BoardForbidden, RedisError) as exc:
        return read_refused(exc)
    if direct is not None and direct.sent:
        await direct.writer.settle()
        return SentDirectly()
    return watch_response(state, request.path)


def watch_response(state: BoardState, path: str) -> HttpResponse:
    """The long-poll's answer with ``state``."""
    return HttpResponse(watch_body(state, path), content_type="application/json", headers=NO_STORE)


class DirectAnswer:
    """Answers a parked long-poll from the hub's tick (boards.selectors.board_watch's ``answer``): the whole
    response, the same bytes the view would return, written straight to the connection (switchboard.fanout).

    Only where a LeanASGIHandler serves the GET: no middleware there could add to the response.
    """

    __slots__ = ("path", "sent", "writer")

    def __init__(self, writer: DirectWriter, path: str) -> None:
        self.writer, self.path, self.sent = writer, path, False

    @classmethod
    def for_request(cls, request: HttpRequest) -> DirectAnswer | None:
        writer = direct_writer() if request.method == "GET" and lean_request() else None
        return cls(writer, request.path) if writer is not None else None

    def __call__(self, state: BoardState) -> bool:
        self.sent = self.writer.answer(*_watch_messages(state.value_json, state.version, self.path))
        return self.sent


@functools.lru_cache(maxsize=256)  # every watcher of a board woken by one notify sends the same messages
def _watch_messages(value_json: str | None, version: int, path: str) -> tuple[dict, dict]:
    state = BoardState(name="", version=version, value_json=value_json)
    return response_messages(watch_response(state, path))


async def sse_events(name: str, since: int | None, writer: DirectWriter | None = None) -> AsyncIterator[bytes]:
    """The SSE text: a retry hint, then `id: <version>` / `data: <value JSON>` events and heartbeats.

    With a ``writer``, live events go from the hub's tick straight to the client (switchboard.fanout).
    """
    yield f"retry: {int(setting('BOARDS_SSE_RETRY_MS'))}\n\n".encode()
    heartbeat = float(setting("BOARDS_SSE_HEARTBEAT"))
    async for state in board_stream(name=name, since=since, heartbeat=heartbeat, writer=writer, encode=sse_event):
        yield b": heartbeat\n\n" if state is None else sse_event(state)


def sse_event(state: BoardState) -> bytes:
    """One state's SSE event (encoded once for every stream of the board)."""
    return _sse_event(state.version, state.value_json)


@functools.lru_cache(maxsize=256)
def _sse_event(version: int, value_json: str | None) -> bytes:
    return f"id: {version}\ndata: {value_json or 'null'}\n\n".encode()


@csrf_exempt  # read-only: other methods only get a 405
async def stream(request: HttpRequest, name: str) -> HttpResponse:
    """Server-Sent Events: the current value, then each new one; resumes after Last-Event-ID."""
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(["GET"])
    try:
        since = parse_version(request.headers.get("Last-Event-ID"), what="Last-Event-ID")
    except BadParameter as exc:
        return json_error(exc.code, str(exc), 400)
    try:
        await state_check(request, await board_state_async(name=name))
    except (BoardNotFound, BoardForbidden, RedisError) as exc:
        return read_refused(exc)
    return await sse_response(request, sse_events(name, since, direct_writer()))


@json_view(methods=["POST"], login=True)
def notify(request: HttpRequest, name: str) -> JsonResponse:
    """POST a JSON value to the board (staff, or the boards.notify_board permission); answers its version."""
    if not (request.user.is_staff or request.user.has_perm("boards.notify_board")):
        message = "Only staff or users with the boards.notify_board permission may notify boards."
        return json_error("forbidden", message, 403)
    try:
        value = json_body(request, empty=NO_BODY)
    except BadRequest as exc:
        return json_error(exc.code, f"{exc} {BODY_HINT}" if exc.status == 400 else str(exc), exc.status)
    if value is NO_BODY:
        return json_error("bad_json", BODY_HINT, 400)
    try:
        version = board_notify(name=name, value=value)
    except ValueTooLarge as exc:
        return json_error("too_large", str(exc), 413)
    except BoardError as exc:
        return json_error("invalid_board", str(exc), 400)
    except RedisError:
        return json_error("unavailable", UNAVAILABLE, 503)
    return JsonResponse({"name": name, "ts": version}, headers=NO_STORE)
