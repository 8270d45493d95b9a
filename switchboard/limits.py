"""Abuse limits shared by the apps: per-user rate limits, per-client stream slots, request body size."""

from __future__ import annotations

import contextlib
import math
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, JsonResponse

from switchboard.connections import redis_async, redis_sync

# KEYS[1] the window's counter; ARGV[1] window seconds. Returns the count after this hit.
_HIT_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


@dataclass(frozen=True)
class RateResult:
    allowed: bool
    count: int
    limit: int
    retry_after: int


def _window_key(scope: str, ident: str, window: int) -> tuple[str, int]:
    now = time.time()
    bucket = int(now // window)
    retry_after = max(1, math.ceil((bucket + 1) * window - now))
    return f"sb-rate:{scope}:{ident}:{bucket}", retry_after


def rate_limit_hit(*, scope: str, ident: str, limit: int, window: int) -> RateResult:
    """Count one action of ``ident`` in ``scope``; allowed while at most ``limit`` per ``window`` seconds."""
    key, retry_after = _window_key(scope, ident, window)
    count = int(redis_sync().eval(_HIT_LUA, 1, key, window))
    return RateResult(count <= limit, count, limit, retry_after)


async def rate_limit_hit_async(*, scope: str, ident: str, limit: int, window: int) -> RateResult:
    """The asyncio twin of rate_limit_hit."""
    key, retry_after = _window_key(scope, ident, window)
    count = int(await redis_async().eval(_HIT_LUA, 1, key, window))
    return RateResult(count <= limit, count, limit, retry_after)


def too_many_requests(result: RateResult, *, what: str) -> JsonResponse:
    """A 429 JSON answer with Retry-After, saying what was limited and when to try again."""
    response = JsonResponse(
        {
            "error": "rate_limited",
            "detail": f"Too many {what}: at most {result.limit} per window. Try again in {result.retry_after} s.",
            "retry_after": result.retry_after,
        },
        status=429,
    )
    response["Retry-After"] = str(result.retry_after)
    return response


def client_ident(request: HttpRequest) -> str:
    """Who is asking: the user id when signed in, else the client address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user-{user.pk}"
    return f"addr-{request.META.get('REMOTE_ADDR', 'unknown')}"


class TooManyStreams(Exception):
    """The client already holds the most open streams allowed (SWITCHBOARD_MAX_STREAMS_PER_CLIENT)."""


_open_streams: Counter[str] = Counter()


def max_streams_per_client() -> int:
    return getattr(settings, "SWITCHBOARD_MAX_STREAMS_PER_CLIENT", 50)


@contextlib.asynccontextmanager
async def stream_slot(request: HttpRequest) -> AsyncIterator[None]:
    """Hold one of the client's open long-poll/SSE slots in this process, or raise TooManyStreams."""
    ident = client_ident(request)
    if _open_streams[ident] >= max_streams_per_client():
        raise TooManyStreams(ident)
    _open_streams[ident] += 1
    try:
        yield
    finally:
        _open_streams[ident] -= 1
        if _open_streams[ident] <= 0:
            del _open_streams[ident]


def too_many_streams() -> JsonResponse:
    """A 429 JSON answer for a client over its open-stream limit."""
    limit = max_streams_per_client()
    return JsonResponse(
        {"error": "too_many_streams", "detail": f"At most {limit} open streams per client: close one first."},
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
            return JsonResponse({"error": "bad_request", "detail": "Content-Length is not a number."}, status=400)
        if limit is not None and length > limit:
            return JsonResponse(
                {"error": "too_large", "detail": f"Request body is {length} bytes; the limit is {limit}."},
                status=413,
            )
        return None

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self._refuse(request) or self.get_response(request)

    async def __acall__(self, request: HttpRequest):
        return self._refuse(request) or await self.get_response(request)
