"""Reading untrusted request input: one JSON body parser for every endpoint, and a text check for form fields.

``json_body(request)`` is the only way a view reads a JSON body. It refuses, with ``BadRequest`` (the view
answers 400 in its JSON error shape):

- a body that is not UTF-8 (including UTF-8-encoded surrogates, which Python's own decoder lets through);
- nesting deeper than SWITCHBOARD_JSON_MAX_DEPTH (default 32): a 50,000-deep array is a RecursionError
  inside ``json.loads``, checked here before parsing, in linear time;
- NaN and Infinity (not JSON), integers longer than Python parses;
- any string or key holding a lone surrogate (``"\\ud800"``): such a string cannot be encoded as UTF-8, so
  it would fail later, in a database driver, Redis or a worker.

The body's size is limited before this runs (switchboard.limits.BodySizeLimitMiddleware).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

__all__ = ["BadRequest", "json_body", "json_loads", "text_check", "value_check"]

DEFAULT_MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")
# JSON strings (escapes included), removed before counting brackets so that "[[[" in a string is not depth.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


class BadRequest(ValueError):
    """The request's input is malformed; ``code`` is the error string, the message says what to send instead."""

    def __init__(self, message: str, *, code: str = "bad_request", status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


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
