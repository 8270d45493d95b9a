"""Direct writes to streaming ASGI responses, so the hub's tick can write to many clients without a task switch each.

A streaming view (Server-Sent Events) normally yields each chunk to the ASGI handler's task, which sends
it: one task wake-up, a chain of async generators and an ASGI ``send`` per subscriber per message.
Here the hub's own tick calls ``DirectWriter.write`` for each subscriber instead: it runs the server's
``send`` coroutine in place and, as uvicorn's does when the socket is writable, it finishes at once
(``transport.write``). A ``send`` that must wait (the client reads slowly) finishes in a task of its
own; until it has, ``write`` refuses further chunks so the view's task takes over, in order.

``capture_send`` is the ASGI wrapper that makes the connection's ``send`` reachable from the view
(``direct_writer()``). Nothing between it and Django may change the body (no compressing middleware):
a direct chunk bypasses whatever wraps ``response.streaming_content``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from switchboard.hub import Message, Subscription, _Gap

logger = logging.getLogger(__name__)

_send: contextvars.ContextVar[Callable[[dict], Awaitable[None]] | None] = contextvars.ContextVar(
    "switchboard_asgi_send", default=None
)


def capture_send(app):
    """ASGI wrapper: makes each HTTP request's ``send`` available to ``direct_writer()`` in its view."""

    async def application(scope, receive, send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        token = _send.set(send)
        try:
            await app(scope, receive, send)
        finally:
            _send.reset(token)

    application.__wrapped__ = app  # type: ignore[attr-defined]
    return application


def direct_writer() -> DirectWriter | None:
    """A writer of body chunks for the current streaming response, or None (no ``capture_send`` around the app)."""
    send = _send.get()
    return DirectWriter(send) if send is not None else None


async def next_event_writing_direct(
    sub: Subscription,
    *,
    timeout: float,  # noqa: ASYNC109 (sub.get's own timeout, as in hub.Subscription.get)
    writer: DirectWriter | None,
    deliver: Callable[[list[Message]], bool],
) -> tuple[Message | _Gap | None, bool]:
    """``sub``'s next event (None after ``timeout``) and whether the client is gone.

    With a ``writer``, the hub's tick calls ``deliver`` while this waits (it writes to the client directly);
    once woken, this detaches it and waits for a chunk still being sent, so the caller's own writes follow in
    order. Without one, it is ``sub.get``. The caller ends the stream when the client is gone.
    """
    if writer is not None:
        sub.attach(deliver)
    event = await sub.get(timeout=timeout)
    if writer is not None:
        sub.detach()
        if not await writer.settle():
            return event, True
    return event, False


class DirectWriter:
    """Sends ``http.response.body`` chunks (more to come) of a started response, or a whole response of a
    request that has sent nothing yet, from any callback."""

    __slots__ = ("_pending", "_send", "failed")

    def __init__(self, send: Callable[[dict], Awaitable[None]]) -> None:
        self._send = send
        self._pending: asyncio.Task | None = None
        self.failed = False

    def write(self, body: bytes) -> bool:
        """Send ``body`` now; False (nothing sent) while an earlier chunk is still waiting, or after a failure."""
        return self.send_now({"type": "http.response.body", "body": body, "more_body": True})

    def answer(self, start: dict, body: dict) -> bool:
        """Send a whole response (its ``http.response.start`` and last ``http.response.body`` messages) of a
        request that has sent nothing yet; False (nothing sent) when it cannot be sent now, True once its start
        is sent (a body that then fails only means the client has left: ``failed``)."""
        if self._pending is not None or not self.send_now(start):
            return False
        if self._pending is None:
            self.send_now(body)
            return True
        # The start must wait (flow control): the body follows it in the same task.
        self._pending = asyncio.get_running_loop().create_task(_then(self._pending, self._send, body))
        return True

    def send_now(self, message: dict) -> bool:
        """Send one ASGI message now (its end in a task of its own if the server must wait); False (nothing
        sent) while an earlier message is still waiting, or after a failure."""
        if self.failed or (self._pending is not None and not self._pending.done()):
            return False
        # The awaitable's iterator: a coroutine (uvicorn, hypercorn) or a native future (granian) alike.
        coro = self._send(message).__await__()
        try:
            awaited = next(coro)  # the server's send, run in place: no task, no loop iteration
        except StopIteration:
            return True
        except Exception as exc:
            logger.debug("Direct write failed (%r): the response ends", exc)
            self.failed = True  # the client is gone: the view's task ends the response
            return False
        # It must wait (flow control): finish it in a task; messages that follow wait for it.
        self._pending = asyncio.get_running_loop().create_task(_resume(coro, awaited))
        return True

    async def settle(self) -> bool:
        """Wait for a chunk still being sent; False when the stream failed (the client left)."""
        if self._pending is not None:
            try:
                await self._pending
            except Exception:
                self.failed = True
            self._pending = None
        return not self.failed


async def _then(first: asyncio.Task, send: Callable[[dict], Awaitable[None]], message: dict) -> None:
    await first
    await send(message)


async def _resume(coro, awaited: Any) -> None:
    """Drive an awaitable's iterator that suspended (outside any task) on ``awaited`` to its end."""
    while True:
        try:
            if awaited is None:  # a bare yield (asyncio.sleep(0)): give the loop one turn
                await asyncio.sleep(0)
                value = None
            else:
                if getattr(awaited, "_asyncio_future_blocking", False):
                    awaited._asyncio_future_blocking = False  # set by its yield to us: a task awaits it now
                value = await awaited
        except BaseException as exc:
            if not hasattr(coro, "throw"):
                raise
            try:
                awaited = coro.throw(exc)
            except StopIteration:
                return
            continue
        try:
            awaited = coro.send(value) if hasattr(coro, "send") else next(coro)
        except StopIteration:
            return
