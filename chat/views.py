"""Chat views: parse input, call a service or selector, render (HTML pages, JSON API, SSE, long-poll)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
)
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.encoding import escape_uri_path
from django.views.decorators.http import require_GET, require_http_methods

from chat.conf import setting
from chat.context import index_providers, room_providers
from chat.models import Room
from chat.selectors import db_call, envelopes_after, message_batches_follow, room_get
from chat.services import ChatError, message_post, message_post_rate_hit, room_create
from chat.wire import envelope_encode, envelope_from_bytes, room_channel
from switchboard.fanout import DirectWriter, direct_writer
from switchboard.http import (
    BadRequest,
    csrf_refusal,
    error_response,
    json_body,
    json_error,
    json_view,
    login_required,
    method_not_allowed,
)
from switchboard.hub import GAP, get_hub
from switchboard.limits import (
    TooManyStreams,
    client_ident,
    rate_limit_message,
    sse_response,
    stream_slot,
    too_many_requests,
    too_many_streams,
)
from switchboard.providers import render_page

MAX_SEQ = 2**63 - 1


def parse_count(value: str | None, *, name: str, default: int) -> int:
    """A non-negative integer query parameter, or BadRequest."""
    if value is None or value == "":
        return default
    if not value.isascii() or not value.isdigit() or len(value) > 19 or int(value) > MAX_SEQ:
        raise BadRequest(f"{name!r} must be a non-negative integer, got {value[:40]!r}.")
    return int(value)


def parse_seconds(value: str | None, *, default: float, maximum: float) -> float:
    """A timeout in seconds between 0 and ``maximum``, or BadRequest."""
    if value is None or value == "":
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise BadRequest(f"'timeout' must be a number of seconds, got {value[:40]!r}.")
    if not 0 <= seconds <= maximum:
        raise BadRequest(f"'timeout' must be between 0 and {maximum:g} seconds.")
    return seconds


def wants_json(request: HttpRequest) -> bool:
    return request.content_type == "application/json"


# -- pages ---------------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    """The room list; POST creates a room (login and the chat.add_room permission needed)."""
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.has_perm("chat.add_room"):
            return render_page(
                request, "chat/index.html", index_providers(), status=403, form_errors=["You may not create rooms."]
            )
        try:
            room = room_create(slug=request.POST.get("slug", "").strip(), title=request.POST.get("title", ""))
        except ChatError as exc:
            return render_page(request, "chat/index.html", index_providers(), status=400, form_errors=[str(exc)])
        return redirect("chat:room", slug=room.slug)
    return render_page(request, "chat/index.html", index_providers())


@require_GET
def room(request: HttpRequest, slug: str) -> HttpResponse:
    """A room: the last messages rendered here, then live updates in the browser."""
    try:
        found = room_get(slug=slug)
    except Room.DoesNotExist:
        raise Http404("No such room.")
    return render_page(request, "chat/room.html", room_providers(), room=found)


# -- JSON API ------------------------------------------------------------------------------------
@json_view(methods=["GET", "POST"], csrf=False)  # CSRF checked in _post, after the sign-in check
def messages(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: history after ``after`` (oldest first). POST: post a message (201 with it)."""
    try:
        found = room_get(slug=slug)
    except Room.DoesNotExist:
        return json_error("not_found", f"No room {slug!r}.", status=404)
    if request.method == "POST":
        return _post(request, found)
    try:
        after = parse_count(request.GET.get("after"), name="after", default=0)
        limit = min(
            parse_count(request.GET.get("limit"), name="limit", default=setting("CHAT_PAGE_SIZE")),
            setting("CHAT_MAX_PAGE"),
        )
    except BadRequest as exc:
        return error_response(exc)
    envelopes = envelopes_after(room=found, after_seq=after, limit=limit)
    last = envelopes[-1].seq if envelopes else after
    next_url = f"{reverse('chat:messages', args=[slug])}?{urlencode({'after': last, 'limit': limit})}"
    return _envelopes_response(envelopes, next_url=next_url)


def _post(request: HttpRequest, room: Room) -> HttpResponse:
    as_json = wants_json(request)
    if not request.user.is_authenticated:
        if as_json:
            return login_required("Sign in to post messages.")
        return redirect_to_login(reverse("chat:room", args=[room.slug]))
    refused = csrf_refusal(request)
    if refused is not None:
        return refused
    limited = message_post_rate_hit(ident=client_ident(request))
    if not limited.allowed:
        return _rate_limited(request, room, limited)
    if as_json:
        try:
            body = json_body(request)
        except BadRequest as exc:
            return json_error(exc.code, f'{exc} Send {{"text": "..."}}.', status=exc.status)
        if not isinstance(body, dict) or "text" not in body:
            return json_error("bad_json", 'The body must be a JSON object with a "text" field.', status=400)
        text = body["text"]
    else:
        text = request.POST.get("text", "")
    try:
        message = message_post(room=room, author=request.user, text=text)
    except ChatError as exc:
        return json_error("invalid_text", str(exc), status=400)
    if _wants_page(request):
        return redirect("chat:room", slug=room.slug)  # the page's form without JavaScript
    return HttpResponse(envelope_encode(message).data, status=201, content_type="application/json")


def _wants_page(request: HttpRequest) -> bool:
    """A browser's form post without JavaScript (it asks for HTML, not JSON)."""
    accept = request.headers.get("Accept", "")
    return not wants_json(request) and "text/html" in accept and "application/json" not in accept


def _rate_limited(request: HttpRequest, room: Room, limited) -> HttpResponse:
    """429 with Retry-After: JSON for scripts, the room page with the message for a form post."""
    if _wants_page(request):
        message = rate_limit_message(limited, what="messages")
        page = render_page(request, "chat/room.html", room_providers(), status=429, room=room, post_error=message)
        page["Retry-After"] = str(limited.retry_after)
        return page
    return too_many_requests(limited, what="messages")


def _envelopes_response(envelopes: list, *, next_url: str) -> HttpResponse:
    # The envelopes are already JSON: join their bytes instead of decoding and encoding again.
    body = b'{"messages":[%s],"next_url":%s}' % (
        b",".join(e.data for e in envelopes),
        json.dumps(next_url).encode(),
    )
    return HttpResponse(body, content_type="application/json")


async def _room_or_none(slug: str) -> Room | None:
    try:
        return await db_call(room_get, slug=slug)
    except Room.DoesNotExist:
        return None


async def stream(request: HttpRequest, slug: str) -> HttpResponseBase:
    """Server-Sent Events: history after ``after`` (or Last-Event-ID), then live; heartbeats."""
    if request.method != "GET":
        return method_not_allowed(["GET"])
    try:
        after = parse_count(request.GET.get("after"), name="after", default=0)
        last_id = request.headers.get("Last-Event-ID")
        if last_id is not None and last_id.strip():
            after = parse_count(last_id.strip(), name="Last-Event-ID", default=0)
    except BadRequest as exc:
        return error_response(exc)
    found = await _room_or_none(slug)
    if found is None:
        return json_error("not_found", f"No room {slug!r}.", status=404)
    return await sse_response(request, _sse(found, after, writer=direct_writer()))


async def _sse(room: Room, after: int, *, writer: DirectWriter | None = None) -> AsyncIterator[bytes]:
    yield b"retry: %d\n: connected\n\n" % setting("CHAT_SSE_RETRY_MS")
    heartbeat = float(setting("CHAT_HEARTBEAT"))
    # With a writer, live frames go from the hub's tick straight to the client (switchboard.fanout).
    async for batch in message_batches_follow(room=room, after=after, keepalive=heartbeat, writer=writer):
        if batch:
            yield b"".join(envelope.sse for envelope in batch)
        else:
            yield b": heartbeat\n\n"


async def poll(request: HttpRequest, slug: str) -> HttpResponseBase:
    """Long-poll: every message after ``after`` as soon as there is one, or none at the timeout."""
    if request.method != "GET":
        return method_not_allowed(["GET"])
    try:
        after = parse_count(request.GET.get("after"), name="after", default=0)
        timeout = parse_seconds(
            request.GET.get("timeout"),
            default=float(setting("CHAT_POLL_TIMEOUT")),
            maximum=float(setting("CHAT_POLL_MAX_TIMEOUT")),
        )
    except BadRequest as exc:
        return error_response(exc)
    found = await _room_or_none(slug)
    if found is None:
        return json_error("not_found", f"No room {slug!r}.", status=404)
    limit = setting("CHAT_MAX_PAGE")
    idle = float(setting("CHAT_IDLE_CHECK"))
    deadline = time.monotonic() + timeout
    try:
        async with stream_slot(request):
            envelopes = await _poll_wait(found, after=after, deadline=deadline, limit=limit, idle=idle)
    except TooManyStreams:
        return too_many_streams()
    last = envelopes[-1].seq if envelopes else after
    query: dict[str, Any] = {"after": last}
    if request.GET.get("timeout"):
        query["timeout"] = request.GET["timeout"]
    next_url = f"{escape_uri_path(request.path)}?{urlencode(query)}"  # the page's or the API's, as called
    return _envelopes_response(envelopes, next_url=next_url)


async def _poll_wait(room: Room, *, after: int, deadline: float, limit: int, idle: float) -> list:
    """The messages after ``after``, waiting on the room's channel until there are some or the deadline."""
    hub = get_hub()
    async with hub.subscribe(room_channel(room.slug)) as sub:
        envelopes = await db_call(envelopes_after, room=room, after_seq=after, limit=limit)
        # Until there are messages, the deadline, or the server shutting down (then it answers what it has).
        while not envelopes and (left := deadline - time.monotonic()) > 0 and not hub.stopping:
            event = await sub.get(timeout=min(left, idle))
            if event is not None and event is not GAP:
                heard = envelope_from_bytes(event.data)
                if heard is None or heard.seq <= after:
                    continue
            envelopes = await db_call(envelopes_after, room=room, after_seq=after, limit=limit)
    return envelopes
