"""A lean ASGI path for the long-lived board GETs (long-poll watch and SSE stream).

Under ASGI, Django's handler runs each request in its own ThreadSensitiveContext (a thread of its
own on the first sync call), sends request_started/request_finished through sync receivers (thread
hops), and runs every MiddlewareMixin middleware's hooks through sync_to_async. For a page that is
fine; for 5,000 parked watchers woken by one notify it serialises thousands of thread hops and
keeps an idle thread per watcher. ``LeanASGIHandler`` is still Django (same URLconf, the same async
views, convert_exception_to_response, ALLOWED_HOSTS checked) but without middleware, per-request
thread or request signals: the views it serves are read-only, need no session or CSRF, and reach
the database only through the async ORM on a rare fallback. ``lean_router`` sends the GETs whose
path matches BOARDS_LEAN_PATHS to it and everything else to the full Django application.
"""

from __future__ import annotations

import asyncio
import re
from contextlib import closing
from contextvars import ContextVar

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse, set_script_prefix

from boards.conf import setting

LEAN_METHODS = frozenset({"GET", "HEAD"})
# Set while a LeanASGIHandler serves the request: nothing (no middleware) adds to or changes its response.
_lean: ContextVar[bool] = ContextVar("boards_lean_request", default=False)


def lean_request() -> bool:
    """Whether the current request is served by a LeanASGIHandler (its response goes out as the view made it)."""
    return _lean.get()


def response_messages(response: HttpResponse) -> tuple[dict, dict]:
    """The ``http.response.start`` and ``http.response.body`` messages of a plain (not streaming, cookie-less)
    response, with its Content-Length, exactly as LeanASGIHandler sends it."""
    content_length_set(response)
    headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in response.items()]
    start = {"type": "http.response.start", "status": response.status_code, "headers": headers}
    return start, {"type": "http.response.body", "body": response.content}


def content_length_set(response: HttpResponse) -> None:
    """Give a plain response its Content-Length, as CommonMiddleware does (the lean path runs none)."""
    if not response.has_header("Content-Length"):
        response.headers["Content-Length"] = str(len(response.content))


class SentDirectly(HttpResponse):
    """What a view returns when it has already sent its whole response itself (switchboard.fanout.DirectWriter
    .answer, from the hub's tick): the handler sends nothing more."""


class LeanASGIHandler(ASGIHandler):
    """Django's ASGI handler with no middleware, no per-request thread and no request signals."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        get_response = self._get_response_async

        async def checked(request: HttpRequest) -> HttpResponse:
            request.get_host()  # DisallowedHost becomes a 400, as CommonMiddleware would make it
            response = await get_response(request)
            if not response.streaming:
                content_length_set(response)
            return response

        self._middleware_chain = convert_exception_to_response(checked)

    async def send_response(self, response, send) -> None:
        """Django's send_response, in two ASGI messages and no chunking for a plain, cookie-less answer; nothing
        for a response the view has already sent (``SentDirectly``)."""
        if isinstance(response, SentDirectly):
            return None
        if response.streaming or response.cookies:
            return await super().send_response(response, send)
        start, body = response_messages(response)
        await send(start)
        await send(body)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"LeanASGIHandler serves HTTP only, not {scope['type']}.")
        token = _lean.set(True)
        try:
            await self.handle(scope, receive, send)
        finally:
            _lean.reset(token)

    async def handle(self, scope, receive, send) -> None:
        """Django's ASGIHandler.handle without request signals, and a cheaper disconnect watch than a TaskGroup."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                await self.send_response(error_response, send)
                return
            # A client that goes away cancels the view (so a parked watcher leaves the hub at once).
            task = asyncio.current_task()
            listener = asyncio.ensure_future(self.listen_for_disconnect(receive))

            def on_disconnect(done: asyncio.Future) -> None:
                if not done.cancelled() and isinstance(done.exception(), RequestAborted):
                    task.cancel()

            listener.add_done_callback(on_disconnect)
            try:
                response = await self.run_get_response(request)
                await self.send_response(response, send)
            except asyncio.CancelledError:
                if not (listener.done() and not listener.cancelled() and listener.exception()):
                    raise  # cancelled for another reason than the client leaving (server shutdown)
            finally:
                listener.remove_done_callback(on_disconnect)
                listener.cancel()
                request.close()


def lean_paths() -> str:
    """BOARDS_LEAN_PATHS, or (None, the default) the watch and stream paths under wherever the host
    included boards.urls; a pattern that matches nothing when it did not include them."""
    pattern = setting("BOARDS_LEAN_PATHS")
    if pattern is not None:
        return pattern
    try:
        prefix = reverse("boards:index")
    except NoReverseMatch:
        return r"(?!)"
    return rf"^{re.escape(prefix)}[a-z0-9][a-z0-9_-]*/(?:watch|stream)$"


def lean_router(default_app, *, pattern: str | None = None):
    """An ASGI app sending GET/HEAD requests whose path matches ``pattern`` to a LeanASGIHandler."""
    lean = LeanASGIHandler()
    regex = re.compile(pattern or lean_paths())

    async def application(scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] in LEAN_METHODS and regex.match(scope["path"]):
            await lean(scope, receive, send)
        else:
            await default_app(scope, receive, send)

    application.lean_handler = lean  # type: ignore[attr-defined]
    return application
