"""Abuse limits shared by the apps: per-user rate limits, per-client stream slots, request body size."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from redis.exceptions import RedisError

from switchboard.connections import redis_async, redis_sync

# A sliding-window log: KEYS[1] a sorted set of hit times (ms); ARGV[1] now (ms), ARGV[2] window (ms),
# ARGV[3] limit, ARGV[4] a unique member. Drops hits older than the window, records this one when
# under the limit, and returns {allowed, count, oldest hit in the window}.
_HIT_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  count = count + 1
  allowed = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or ARGV[1]
return {allowed, count, oldest}
"""
RATE_KEY_PREFIX = "sb-rate:"
logger = logging.getLogger(__name__)


def clock() -> float:
    """Now, in seconds since the epoch: what every window here is measured with (tests move it, not sleep)."""
    return time.time()


@dataclass(frozen=True)
class RateResult:
    allowed: bool
    count: int
    limit: int
    retry_after: int


def _args(scope: str, ident: str, limit: int, window: int) -> tuple[list[str], list]:
    now_ms = int(clock() * 1000)
    return [f"{RATE_KEY_PREFIX}{scope}:{ident}"], [now_ms, window * 1000, limit, f"{now_ms}-{uuid.uuid4().hex[:8]}"]


def _result(raw: list, *, limit: int, window: int) -> RateResult:
    allowed, count, oldest = int(raw[0]), int(raw[1]), float(raw[2])
    retry_after = max(1, math.ceil((oldest + window * 1000 - clock() * 1000) / 1000))
    return RateResult(bool(allowed), count, limit, retry_after)


def rate_limit_hit(*, scope: str, ident: str, limit: int, window: int, fail_open: bool = False) -> RateResult:
    """Count one action of ``ident`` in ``scope``; allowed while at most ``limit`` in any ``window`` seconds.

    With ``fail_open``, a Redis that does not answer lets the action through (logged) instead of raising:
    for actions that work without Redis (a write to the database), the limit must not take them down.
    """
    keys, args = _args(scope, ident, limit, window)
    try:
        raw = redis_sync().eval(_HIT_LUA, 1, *keys, *args)
    except RedisError as exc:
        if not fail_open:
            raise
        logger.warning(
            "Rate limit %r not checked (Redis does not answer: %s); letting the request through.", scope, exc
        )
        return RateResult(True, 0, limit, 0)
    return _result(raw, limit=limit, window=window)


async def rate_limit_hit_async(*, scope: str, ident: str, limit: int, window: int) -> RateResult:
    """The asyncio twin of rate_limit_hit."""
    keys, args = _args(scope, ident, limit, window)
    return _result(await redis_async().eval(_HIT_LUA, 1, *keys, *args), limit=limit, window=window)


def rate_limit_message(result: RateResult, *, what: str) -> str:
    """What a refused request is told (JSON 429s, and the pages apps render for form posts)."""
    return f"Too many {what}: at most {result.limit} per window. Try again in {result.retry_after} s."


def too_many_requests(result: RateResult, *, what: str) -> JsonResponse:
    """A 429 JSON answer with Retry-After, saying what was limited and when to try again."""
    response = JsonResponse(
        {"error": "rate_limited", "message": rate_limit_message(result, what=what), "retry_after": result.retry_after},
        status=429,
    )
    response["Retry-After"] = str(result.retry_after)
    return response


def client_ident(request: HttpRequest) -> str:
    """Who is asking: the user id when signed in, else the client address."""
    return _ident(request, getattr(request, "user", None))


async def client_ident_async(request: HttpRequest) -> str:
    """client_ident for async views: reads the user with request.auser() (no sync database access)."""
    auser = getattr(request, "auser", None)
    user = await auser() if auser is not None else getattr(request, "user", None)
    return _ident(request, user)


def _ident(request: HttpRequest, user) -> str:
    if user is not None and user.is_authenticated:
        return f"user-{user.pk}"
    return f"addr-{request.META.get('REMOTE_ADDR', 'unknown')}"


class TooManyStreams(Exception):
    """The client already holds the most open streams allowed (SWITCHBOARD_MAX_STREAMS_PER_CLIENT)."""


_open_streams: Counter[str] = Counter()


def max_streams_per_client() -> int:
    return getattr(settings, "SWITCHBOARD_MAX_STREAMS_PER_CLIENT", 50)


def _take_slot(ident: str) -> Callable[[], None]:
    """Count one open stream of ``ident`` (or raise TooManyStreams); returns its release, safe to call twice."""
    if _open_streams[ident] >= max_streams_per_client():
        raise TooManyStreams(ident)
    _open_streams[ident] += 1
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        _open_streams[ident] -= 1
        if _open_streams[ident] <= 0:
            del _open_streams[ident]

    return release


@contextlib.asynccontextmanager
async def stream_slot(request: HttpRequest) -> AsyncIterator[None]:
    """Hold one of the client's open long-poll/SSE slots in this process, or raise TooManyStreams."""
    release = _take_slot(await client_ident_async(request))
    try:
        yield
    finally:
        release()


class _SlotHeldStream:
    """An async iterator that releases its stream slot when it ends, fails, or its response is closed."""

    def __init__(self, content: AsyncIterator, release: Callable[[], None]) -> None:
        self._content, self._release = content, release

    def __aiter__(self) -> _SlotHeldStream:
        return self

    async def __anext__(self):
        try:
            return await anext(self._content)
        except BaseException:  # the end, an error, or the client leaving (CancelledError)
            self._release()
            raise

    async def aclose(self) -> None:
        self._release()
        aclose = getattr(self._content, "aclose", None)
        if aclose is not None:
            await aclose()

    def close(self) -> None:  # StreamingHttpResponse.close() calls it
        self._release()


async def stream_with_slot(request: HttpRequest, content: AsyncIterator) -> AsyncIterator:
    """``content`` holding one of the client's stream slots until it ends or its response closes.

    Raises TooManyStreams at once (before any response starts) when the client holds them all.
    """
    return _SlotHeldStream(content, _take_slot(await client_ident_async(request)))


async def sse_response(request: HttpRequest, events: AsyncIterator) -> HttpResponse:
    """A Server-Sent Events response streaming ``events`` in one of the client's slots (429 when none is free)."""
    try:
        content = await stream_with_slot(request, events)
    except TooManyStreams:
        return too_many_streams()
    response = StreamingHttpResponse(content, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # proxies such as nginx must not buffer the stream
    return response


def too_many_streams() -> JsonResponse:
    """A 429 JSON answer for a client over its open-stream limit."""
    limit = max_streams_per_client()
    return JsonResponse(
        {"error": "too_many_streams", "message": f"At most {limit} open streams per client: close one first."},
        status=429,
    )


class BodySizeLimitMiddleware:
    """Refuse request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before reading them."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def _refuse(self, request: HttpRequest) -> JsonResponse | None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"error": "bad_request", "message": "Content-Length is not a number."}, status=400)
        if limit is not None and length > limit:
            return JsonResponse(
                {"error": "too_large", "message": f"Request body is {length} bytes; the limit is {limit}."},
                status=413,
            )
        return None

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self._refuse(request) or self.get_response(request)

    async def __acall__(self, request: HttpRequest):
        return self._refuse(request) or await self.get_response(request)


class _BodyTooLarge(Exception):
    pass


def body_size_limit(app):
    """ASGI middleware: 413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE before the server reads it all.

    Django's ASGI handler reads the whole body (into a temporary file) before any middleware runs, and
    a chunked body has no Content-Length for BodySizeLimitMiddleware to check. This refuses a body
    whose declared length is over the limit at once, and stops reading a streamed one at the limit.
    """

    async def application(scope, receive, send) -> None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE if scope["type"] == "http" else None
        if limit is None:
            return await app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                return await _send_413(send, f"Request body is {int(value)} bytes; the limit is {limit}.")
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _send_413(send, f"Request body is over the limit of {limit} bytes.")

    return application


async def _send_413(send, message: str) -> None:
    body = json.dumps({"error": "too_large", "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": [*headers, (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# -- sign-in throttling ------------------------------------------------------------------------------
# Failed sign-ins are counted per username and per client address over a sliding window (Redis sorted
# sets, like the rate limits). Beyond SWITCHBOARD_LOGIN_FAILURES_PER_USER failures for a username, or
# SWITCHBOARD_LOGIN_FAILURES_PER_ADDRESS from an address, within SWITCHBOARD_LOGIN_FAILURE_WINDOW seconds,
# LoginThrottleBackend (first in AUTHENTICATION_BACKENDS) refuses every sign-in for that username or from
# that address, the right password included, until the window has passed. That covers the site's login
# page and the admin's (both call django.contrib.auth.authenticate()).
_FAILURES_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local count = redis.call('ZCARD', KEYS[1])
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or ARGV[1]
return {count, oldest}
"""
LOGIN_DEFAULTS = {
    "SWITCHBOARD_LOGIN_FAILURES_PER_USER": 5,
    "SWITCHBOARD_LOGIN_FAILURES_PER_ADDRESS": 20,
    "SWITCHBOARD_LOGIN_FAILURE_WINDOW": 900,
}


def _login_setting(name: str) -> int:
    return getattr(settings, name, LOGIN_DEFAULTS[name])


def _login_keys(request: HttpRequest | None, username: str | None) -> list[tuple[str, str]]:
    keys = []
    if username:
        keys.append((f"{RATE_KEY_PREFIX}login-user:{username.casefold()[:150]}", "SWITCHBOARD_LOGIN_FAILURES_PER_USER"))
    address = request.META.get("REMOTE_ADDR") if request is not None else None
    if address:
        keys.append((f"{RATE_KEY_PREFIX}login-addr:{address}", "SWITCHBOARD_LOGIN_FAILURES_PER_ADDRESS"))
    return keys


def login_locked(request: HttpRequest | None, username: str | None) -> int:
    """Seconds until a sign-in for ``username`` from this request's address may be tried again; 0: now."""
    window_ms = _login_setting("SWITCHBOARD_LOGIN_FAILURE_WINDOW") * 1000
    now_ms = int(clock() * 1000)
    wait = 0
    try:
        for key, limit_name in _login_keys(request, username):
            count, oldest = redis_sync().eval(_FAILURES_LUA, 1, key, now_ms, window_ms)
            if int(count) >= _login_setting(limit_name):
                wait = max(wait, math.ceil((float(oldest) + window_ms - now_ms) / 1000), 1)
    except RedisError as exc:
        logger.warning("Sign-in throttling not checked (Redis does not answer: %s).", exc)
        return 0
    return wait


def login_failure_record(request: HttpRequest | None, username: str | None) -> None:
    """Count one failed sign-in for ``username`` and for the request's address."""
    window_ms = _login_setting("SWITCHBOARD_LOGIN_FAILURE_WINDOW") * 1000
    now_ms = int(clock() * 1000)
    try:
        with redis_sync().pipeline(transaction=False) as pipe:
            for key, _ in _login_keys(request, username):
                pipe.zadd(key, {f"{now_ms}-{uuid.uuid4().hex[:8]}": now_ms})
                pipe.pexpire(key, window_ms)
            pipe.execute()
    except RedisError as exc:
        logger.warning("Failed sign-in not counted (Redis does not answer: %s).", exc)


def login_failures_clear(username: str) -> None:
    """Forget the failed sign-ins of ``username`` (after a successful one)."""
    with contextlib.suppress(RedisError):
        redis_sync().delete(*(key for key, _ in _login_keys(None, username)))


class LoginThrottleBackend(BaseBackend):
    """An authentication backend that signs nobody in: it refuses every sign-in while throttled.

    Put it FIRST in AUTHENTICATION_BACKENDS, before the backends that check passwords (ModelBackend):
    raising PermissionDenied stops authenticate() before they run, the right password included; the
    request is marked (``request.login_retry_after``) so that a login view can answer 429 with Retry-After.
    ``get_user`` loads users as ModelBackend does (the test client's force_login() uses the first backend).
    """

    def authenticate(self, request: HttpRequest | None, username: str | None = None, **kwargs) -> None:
        from django.contrib.auth import get_user_model
        from django.core.exceptions import PermissionDenied

        wait = login_locked(request, username or kwargs.get(get_user_model().USERNAME_FIELD))
        if wait:
            if request is not None:
                request.login_retry_after = wait
            raise PermissionDenied(f"Too many failed sign-ins: try again in {wait} s.")
        return None

    def get_user(self, user_id):
        return ModelBackend().get_user(user_id)


def _throttling() -> bool:
    """Sign-ins are throttled only where the site uses LoginThrottleBackend (a host may not, or have no Redis)."""
    return f"{__name__}.LoginThrottleBackend" in settings.AUTHENTICATION_BACKENDS


def _on_login_failed(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    if not _throttling():
        return
    if request is not None and getattr(request, "login_retry_after", 0):
        return  # refused while throttled: not a new failure of the password
    from django.contrib.auth import get_user_model

    login_failure_record(request, credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username"))


def _on_logged_in(sender, request: HttpRequest | None, user, **kwargs) -> None:
    if _throttling():
        login_failures_clear(user.get_username())


def login_throttle_connect() -> None:
    """Count failed sign-ins and clear them after a success (SwitchboardConfig.ready() calls this)."""
    from django.contrib.auth.signals import user_logged_in, user_login_failed

    user_login_failed.connect(_on_login_failed, dispatch_uid="switchboard.limits.login_failed")
    user_logged_in.connect(_on_logged_in, dispatch_uid="switchboard.limits.logged_in")
