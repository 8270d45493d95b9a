"""One JSON API for the installed apps: the NinjaAPI factory, its error shape, its auth and its cursor pages.

Each app ships a django-ninja ``Router`` in ``<app>/api.py``; the host names the ones it mounts in
``SWITCHBOARD_API_ROUTERS`` (URL prefix -> dotted path, resolved when the URLs are built) and includes
``api_urls()`` at ``api/``. This module names no app.

- Errors: every 4xx/5xx under the API answers switchboard.http's shape ``{"error": code, "message": text}``
  (ninja's validation errors add ``fields``, a JSON 405 replaces Django's empty one, an unknown URL under
  the API is a JSON 404, an unexpected exception a JSON 500).
- Auth: ``Authorization: Bearer <token>`` (switchboard.tokens; no CSRF token needed) or the session cookie
  (CSRF checked on unsafe methods, as Django's middleware would). ``AUTH`` needs one of them; ``OPTIONAL``
  also lets anonymous requests through (request.user is then AnonymousUser).
- Pages: ``?cursor=&limit=`` in, ``{"items": [...], "next_cursor": str | null}`` out (``cursor_page``).
"""

from __future__ import annotations

import base64
import functools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.signals import setting_changed
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import re_path
from django.utils.module_loading import import_string
from ninja import NinjaAPI, Router, Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import ConfigDict, Field

from switchboard.http import (
    SAFE_METHODS,
    BadRequest,
    code_for,
    csrf_json,
    csrf_reason,
    error_response,
    json_body,
    json_error,
    method_not_allowed,
)
from switchboard.tokens import token_user

__all__ = [
    "AUTH",
    "OPTIONAL",
    "BodyIn",
    "ErrorOut",
    "Router",
    "api_create",
    "api_routers",
    "api_urls",
    "cursor_page",
    "errors",
    "page_schema",
]

logger = logging.getLogger(__name__)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


# -- the error shape ---------------------------------------------------------------------------------------
class ErrorOut(Schema):
    """Every error under the API: a stable ``error`` code and a ``message`` saying what to do."""

    error: str = Field(description="A stable machine-readable code, such as not_found or rate_limited.")
    message: str = Field(description="What went wrong and what to do about it.")
    fields: dict[str, list[str]] | None = Field(None, description="Validation errors by field (400, 422).")
    retry_after: int | None = Field(None, description="Seconds to wait before retrying (429).")
    allowed: list[str] | None = Field(None, description="The methods this URL takes (405).")


class BodyIn(Schema):
    """The base of request body schemas: strict types (false is not 0, "5" is not 5), as the JSON says."""

    model_config = ConfigDict(strict=True)


def errors(*statuses: int, **more: Any) -> dict[int, Any]:
    """The ``response=`` entries documenting ``statuses``, 400 (a malformed request) and 422 (a request off the
    schema) as the error shape, plus what ``more`` gives (``_200=ItemOut``)."""
    return {status: ErrorOut for status in (400, *statuses, 422)} | {int(k.lstrip("_")): v for k, v in more.items()}


class CsrfFailed(Exception):
    """A session request with an unsafe method failed Django's CSRF check."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _validation_fields(exc: ValidationError) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for item in exc.errors:
        location = [str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path", "payload")]
        fields.setdefault(".".join(location) or "__all__", []).append(str(item.get("msg", "invalid")))
    return fields


def _on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = _validation_fields(exc)
    where = ", ".join(sorted(fields))
    return json_error(
        "invalid", f"The request does not match the schema ({where}): see fields.", status=422, fields=fields
    )


def _on_bad_request(request: HttpRequest, exc: BadRequest) -> HttpResponse:
    return error_response(exc, **getattr(exc, "extra", {}))


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, BadRequest):  # ninja wraps the body parser's error: answer the parser's
        return error_response(exc.__cause__)
    return json_error(code_for(exc.status_code), str(exc), status=exc.status_code)


def _on_unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    message = "Sign in first, or send an API token as 'Authorization: Bearer <token>'."
    return json_error("login_required", str(exc) if isinstance(exc, BadToken) else message, status=401)


def _on_forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
    return json_error("forbidden", str(exc) or "You may not do this.", status=403)


def _on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return json_error("not_found", str(exc) or "Nothing here: check the URL.", status=404)


def _on_csrf(request: HttpRequest, exc: CsrfFailed) -> HttpResponse:
    return csrf_json(exc.reason)


def _on_exception(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API request %s %s failed", request.method, request.path, exc_info=exc)
    return json_error("server_error", "The server failed to answer this request; it has been logged.", status=500)


class JsonParser(Parser):
    """Request bodies read by switchboard.http.json_body: its limits (depth, NaN, lone surrogates) hold here too."""

    def parse_body(self, request: HttpRequest) -> Any:
        body = json_body(request)
        if not isinstance(body, dict):  # every body schema of the API is an object
            raise BadRequest("The body must be a JSON object: see the operation's request schema.", code="bad_json")
        return body


# -- auth -------------------------------------------------------------------------------------------------
class BadToken(AuthenticationError):
    """An Authorization header that names no active token."""

    def __str__(self) -> str:
        return "The API token is unknown or revoked: send 'Authorization: Bearer <token>' with an active token."


class BearerToken(HttpBearer):
    """``Authorization: Bearer <secret>``: the token's user, with no CSRF check (a header no page can send)."""

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, secret = header.partition(" ")
        user = token_user(secret=secret.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise BadToken()
        request.user = user
        return user

    def authenticate(self, request: HttpRequest, token: str) -> Any:  # pragma: no cover - __call__ does it
        return token_user(secret=token)


class Session(APIKeyCookie):
    """The signed-in session's user; an unsafe method must pass Django's CSRF check (X-CSRFToken header)."""

    param_name = settings.SESSION_COOKIE_NAME if settings.configured else "sessionid"

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS:
            reason = csrf_reason(request)
            if reason is not None:
                raise CsrfFailed(reason)
        return user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:  # pragma: no cover - __call__ does it
        return None


def anonymous(request: HttpRequest) -> Any:
    """Lets an anonymous request through (operations that also serve anonymous users)."""
    if getattr(request, "user", None) is None:
        request.user = AnonymousUser()
    if request.method not in SAFE_METHODS and request.COOKIES.get(settings.CSRF_COOKIE_NAME):
        reason = csrf_reason(request)
        if reason is not None:
            raise CsrfFailed(reason)
    return request.user or True


AUTH = [BearerToken(), Session()]
OPTIONAL = [*AUTH, anonymous]


# -- cursor pages -----------------------------------------------------------------------------------------
class Page(Schema):
    """One page: ``items`` and the ``next_cursor`` to send as ``?cursor=`` for the next (null at the end)."""

    next_cursor: str | None = None


@functools.cache
def page_schema(item: type) -> type:
    """The page schema of ``item`` (``{"items": [item], "next_cursor"}``)."""
    return type(f"{item.__name__}Page", (Page,), {"__annotations__": {"items": list[item]}})


def cursor_encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise BadRequest("The cursor is not one this API gave: send a next_cursor value as it is.", code="bad_cursor")


def page_limit(limit: int | None) -> int:
    """The page size asked for, between 1 and MAX_PAGE_SIZE (DEFAULT_PAGE_SIZE when not given)."""
    if limit is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}.", code="bad_limit")
    return limit


def cursor_page(
    items: QuerySet,
    *,
    key: str,
    cursor: str | None,
    limit: int | None,
    render: Callable[[Any], Any] = lambda o: o,
    keep: Callable[[list], list] | None = None,
) -> dict[str, Any]:
    """A page of ``items`` ordered by the unique field ``key`` ("-pk" for newest first), after ``cursor``.

    ``keep`` filters a page's rows (those the user may not see): the page is then shorter, the cursor the same.
    """
    size = page_limit(limit)
    field = key.lstrip("-")
    ordered = items.order_by(key)
    if cursor is not None:
        after = cursor_decode(cursor)
        if not isinstance(after, int | str):
            raise BadRequest(
                "The cursor is not one this API gave: send a next_cursor value as it is.", code="bad_cursor"
            )
        ordered = ordered.filter(**{f"{field}__{'lt' if key.startswith('-') else 'gt'}": after})
    rows = list(ordered[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = cursor_encode(getattr(rows[-1], "pk" if field == "pk" else field)) if more else None
    return {"items": [render(row) for row in (rows if keep is None else keep(rows))], "next_cursor": next_cursor}


# -- the API ----------------------------------------------------------------------------------------------
def api_create(*, routers: Mapping[str, str | Router], title: str = "Switchboard API", version: str = "1") -> NinjaAPI:
    """A NinjaAPI with the error shape and auth of this module, the given routers mounted under their prefixes."""
    api = NinjaAPI(
        title=title,
        version=version,
        urls_namespace="switchboard-api",
        parser=JsonParser(),
        description=(
            "Send `Authorization: Bearer <token>` (create one with `manage.py api_token create <user>`) or use "
            'the session cookie plus the X-CSRFToken header. Every error is `{"error": code, "message": text}`; '
            'lists are pages: `?cursor=&limit=` in, `{"items", "next_cursor"}` out.'
        ),
    )
    api.add_exception_handler(Exception, _on_exception)
    api.add_exception_handler(ValidationError, _on_validation)
    api.add_exception_handler(BadRequest, _on_bad_request)
    api.add_exception_handler(HttpError, _on_http_error)
    api.add_exception_handler(AuthenticationError, _on_unauthenticated)
    api.add_exception_handler(AuthorizationError, _on_forbidden)
    api.add_exception_handler(Http404, _on_not_found)
    api.add_exception_handler(CsrfFailed, _on_csrf)
    for prefix, router in routers.items():
        api.add_router(f"/{prefix.strip('/')}/", router)
    return api


def api_routers() -> dict[str, str]:
    """SWITCHBOARD_API_ROUTERS: URL prefix -> dotted path of a ninja Router (the routers the host mounts)."""
    return dict(getattr(settings, "SWITCHBOARD_API_ROUTERS", {}))


@functools.cache
def _api(routers: tuple[tuple[str, str], ...]) -> NinjaAPI:
    return api_create(routers={prefix: import_string(path) for prefix, path in routers})


def api_get() -> NinjaAPI:
    """The API of SWITCHBOARD_API_ROUTERS (built once per value of the setting)."""
    return _api(tuple(sorted(api_routers().items())))


def api_urls() -> tuple[list, str, str]:
    """What a host includes at ``api/``: the API's URLs, then a JSON 404 for any other URL under it."""
    api = api_get()
    patterns, app_name, namespace = api.urls
    patterns = [_json_refusals(pattern) for pattern in patterns]
    for pattern in patterns:
        if pattern.name == "api-root":  # ninja's root (/api/) answers Django's HTML 404: ours is JSON
            pattern.callback = _not_found
    return [*patterns, re_path(r"^.*$", _not_found, name="not-found")], app_name, namespace


def _not_found(request: HttpRequest, **_: Any) -> HttpResponse:
    return json_error("not_found", f"No API operation at {request.path}: see the OpenAPI document.", status=404)


_not_found.csrf_exempt = True  # type: ignore[attr-defined]


def _json_refusals(pattern: Any) -> Any:
    """Make ninja's plain 405 (a method no operation of the path takes) the JSON 405, refuse other methods than
    GET and HEAD on the schema and docs views, and a NUL in the URL."""
    view = pattern.callback

    read_only = pattern.name in ("openapi-json", "openapi-view")  # ninja's schema and docs views take any method

    def nul(request: HttpRequest) -> HttpResponse | None:
        if read_only and request.method not in ("GET", "HEAD"):
            return method_not_allowed(["GET", "HEAD"])
        # No database text holds a NUL (PostgreSQL refuses one): a path or query parameter with one names nothing.
        if "\x00" in request.path or any("\x00" in value for value in request.GET.values()):
            return json_error("bad_request", "The URL holds a NUL character: remove it.", status=400)
        return None

    def refused(response: HttpResponse) -> HttpResponse:
        if response.status_code == 405 and response.get("Content-Type", "").startswith("text/"):
            return method_not_allowed([m.strip() for m in response["Allow"].split(",")])
        return response

    if iscoroutinefunction(view):

        async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return nul(request) or refused(await view(request, *args, **kwargs))

        wrapped: Callable = markcoroutinefunction(async_view)
    else:

        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            return nul(request) or refused(view(request, *args, **kwargs))

    wrapped.csrf_exempt = True  # type: ignore[attr-defined]
    pattern.callback = functools.wraps(view)(wrapped)
    return pattern


def _clear_cache(*, setting: str, **kwargs: Any) -> None:
    if setting == "SWITCHBOARD_API_ROUTERS":
        _api.cache_clear()


setting_changed.connect(_clear_cache)
