"""One HTTP vocabulary for every app: reading untrusted input, one bad-request exception family, one JSON error
shape.

Every JSON error any app answers is ``{"error": code, "message": text}`` (plus keys some errors add, such as
``fields`` or ``retry_after``): ``code`` is a stable machine-readable string, ``message`` a sentence saying
what went wrong and what to do. That holds for 400s and 404s as for 401 (sign in), 403 (not allowed, or a
CSRF failure), 405 (wrong method), 413, 429 and 503.

- ``BadRequest`` is the root of the apps' "the request cannot be done" exceptions: it carries the HTTP
  ``status`` and the ``code``; a view answers ``error_response(exc)``. Apps subclass it (``JobsError``,
  ``RequestError``) or raise it as it is.
- ``json_error(code, message, status=...)`` builds the answer.
- ``json_view`` makes a view's method refusals, missing sign-ins and CSRF failures answer in that shape.

``json_body(request)`` is the only way a view reads a JSON body. It refuses, with ``BadRequest`` (code
``bad_json``, or ``too_large`` with 413):

- a body that is not UTF-8 (including UTF-8-encoded surrogates, which Python's own decoder lets through);
- nesting deeper than SWITCHBOARD_JSON_MAX_DEPTH (default 32): a 50,000-deep array is a RecursionError
  inside ``json.loads``, checked here before parsing, in linear time;
- NaN and Infinity (not JSON), integers longer than Python parses;
- any string or key holding a lone surrogate (``"\\ud800"``): such a string cannot be encoded as UTF-8, so
  it would fail later, in a database driver, Redis or a worker.

The body's size is limited before this runs (switchboard.limits.BodySizeLimitMiddleware).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware, _get_failure_view
from django.views.decorators.csrf import csrf_exempt

__all__ = [
    "BadRequest",
    "code_for",
    "csrf_json",
    "csrf_reason",
    "csrf_refusal",
    "error_response",
    "json_body",
    "json_error",
    "json_loads",
    "json_view",
    "login_required",
    "method_not_allowed",
    "text_check",
    "value_check",
]


class BadRequest(ValueError):
    """A request the app refuses: ``status`` (400 unless given) and ``code``; the message says what to send."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    @property
    def message(self) -> str:
        return str(self)


# -- reading untrusted input ---------------------------------------------------------------------------
DEFAULT_MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")
# JSON strings (escapes included), removed before counting brackets so that "[[[" in a string is not depth.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def max_depth() -> int:
    """SWITCHBOARD_JSON_MAX_DEPTH: how deeply arrays and objects may nest in a request body."""
    return getattr(settings, "SWITCHBOARD_JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH)


def _depth(data: bytes) -> int:
    """How deeply ``data``'s arrays and objects nest (strings skipped); linear, no recursion."""
    if data.count(b"[") + data.count(b"{") <= max_depth():
        return 0  # cannot nest deeper than it has brackets
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRING.sub(b'""', data)):
        if bracket in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_loads(data: bytes | str) -> Any:
    """Parse untrusted JSON text; BadRequest (code "bad_json") when it is not acceptable (see the module docstring)."""
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest("The JSON text holds a lone surrogate: send UTF-8 text.", code="bad_json") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"The body is not UTF-8 text (byte {exc.start}): send JSON in UTF-8."
        raise BadRequest(message, code="bad_json") from None
    limit = max_depth()
    if _depth(data) > limit:
        raise BadRequest(f"The JSON nests deeper than {limit} levels: send a flatter value.", code="bad_json")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"The body is not valid JSON: {exc}.", code="bad_json") from None
    value_check(value)
    return value


def value_check(value: Any) -> Any:
    """``value`` unchanged when every string and key in it is encodable text; else BadRequest."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            text_check(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return value


def text_check(text: str, *, field: str = "") -> str:
    """``text`` unchanged unless it holds a lone surrogate (unencodable as UTF-8): then BadRequest."""
    if _SURROGATE.search(text):
        where = f" in {field!r}" if field else ""
        raise BadRequest(f"The text{where} holds a lone surrogate (not valid Unicode text).", code="bad_text")
    return text


def json_body(request: HttpRequest, *, empty: Any = None) -> Any:
    """The request body parsed as JSON (``empty`` when there is none); BadRequest when it is not acceptable."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise BadRequest("The request body is too large.", code="too_large", status=413) from None
    if not body:
        return empty
    return json_loads(body)


# -- answering errors ------------------------------------------------------------------------------------
def json_error(code: str, message: str, *, status: int, headers: dict[str, str] | None = None, **extra: Any):
    """The one JSON error shape: ``{"error": code, "message": message, **extra}`` with ``status``."""
    return JsonResponse({"error": code, "message": message, **extra}, status=status, headers=headers)


# The code an error gets when the caller names none, by HTTP status.
STATUS_CODES = {
    400: "bad_request",
    401: "login_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "rate_limited",
    503: "unavailable",
}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


def code_for(status: int) -> str:
    """The default error code of an HTTP status ("error" for one without a name here)."""
    return STATUS_CODES.get(status, "error")


def error_response(exc: BadRequest, *, headers: dict[str, str] | None = None, **extra: Any) -> JsonResponse:
    """``exc`` answered in the JSON error shape, with its status."""
    return json_error(exc.code, exc.message, status=exc.status, headers=headers, **extra)


def login_required(message: str = "Sign in first: this needs a signed-in user.") -> JsonResponse:
    """401 for an anonymous request to a JSON endpoint that needs a user."""
    return json_error("login_required", message, status=401)


def method_not_allowed(allowed: Iterable[str]) -> JsonResponse:
    """405 with the Allow header and the methods in the message."""
    methods = sorted(allowed)
    response = json_error("method_not_allowed", f"Use {' or '.join(methods)} here.", status=405, allowed=methods)
    response["Allow"] = ", ".join(methods)
    return response


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check, answering with the reason instead of the HTML failure page."""

    def _reject(self, request: HttpRequest, reason: str) -> str:  # type: ignore[override]
        return reason


def csrf_reason(request: HttpRequest) -> str | None:
    """Why Django's CSRF protection refuses ``request``, or None when it passes."""
    check = _CsrfCheck(lambda _request: HttpResponse())
    check.process_request(request)
    return check.process_view(request, None, (), {})  # type: ignore[return-value]


def csrf_json(reason: str) -> JsonResponse:
    """403 for a CSRF failure, in the JSON error shape."""
    message = f"CSRF verification failed ({reason}): send the csrftoken cookie's value in the X-CSRFToken header."
    return json_error("csrf_failed", message, status=403)


def csrf_refusal(request: HttpRequest) -> JsonResponse | None:
    """A JSON 403 when Django's CSRF protection refuses ``request``; None when it passes."""
    reason = csrf_reason(request)
    return None if reason is None else csrf_json(reason)


def json_view(
    *,
    methods: Iterable[str],
    login: bool = False,
    csrf: bool = True,
    when: Callable[[HttpRequest], bool] | None = None,
) -> Callable:
    """Decorate a JSON endpoint: 405 for another method, 401 without a user (``login``), 403 on a CSRF failure
    of an unsafe method (``csrf``), all in the JSON error shape; a ``BadRequest`` it raises becomes its answer.

    ``when`` (a predicate) serves endpoints that also take browser form posts: the requests it says no to
    get Django's own answers instead (an empty 405, the sign-in redirect, the CSRF failure page).
    Works on sync and async views alike (an async one must not need ``login``: request.user is sync).
    """
    allowed = frozenset(method.upper() for method in methods)

    def refusal(request: HttpRequest) -> HttpResponse | None:
        as_json = when is None or when(request)
        if request.method not in allowed:
            return method_not_allowed(allowed) if as_json else HttpResponseNotAllowed(sorted(allowed))
        if login and not request.user.is_authenticated:
            return login_required() if as_json else _login_redirect(request)
        if csrf and request.method not in SAFE_METHODS:
            reason = csrf_reason(request)
            if reason is not None:
                return csrf_json(reason) if as_json else _get_failure_view()(request, reason=reason)
        return None

    def decorate(view: Callable) -> Callable:
        if _is_async(view):

            @functools.wraps(view)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                refused = refusal(request)
                if refused is not None:
                    return refused
                try:
                    return await view(request, *args, **kwargs)
                except BadRequest as exc:
                    return error_response(exc)

            return csrf_exempt(async_wrapper)

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refused = refusal(request)
            if refused is not None:
                return refused
            try:
                return view(request, *args, **kwargs)
            except BadRequest as exc:
                return error_response(exc)

        return csrf_exempt(wrapper)

    return decorate


def _login_redirect(request: HttpRequest) -> HttpResponse:
    # Imported when used: django.contrib.auth.views loads the auth models, and this module must import
    # before the app registry is ready (ASGI entry points import the apps' modules early).
    from django.contrib.auth.views import redirect_to_login

    return redirect_to_login(request.get_full_path())


def _is_async(view: Callable) -> bool:
    return iscoroutinefunction(view)
