"""Boards settings with defaults, read when used: setting("BOARDS_MAX_VALUE_BYTES")."""

from typing import Any

from switchboard.conf import AppSettings

DEFAULTS: dict[str, Any] = {
    # Largest value (its compact JSON, in bytes) a board accepts.
    "BOARDS_MAX_VALUE_BYTES": 16 * 1024,
    # Prefix of every Redis key and channel the app uses.
    "BOARDS_KEY_PREFIX": "boards",
    # Long-poll: the wait when the request names no timeout, and the cap on the one it names (seconds).
    "BOARDS_WATCH_TIMEOUT": 25.0,
    "BOARDS_WATCH_TIMEOUT_MAX": 60.0,
    # Server-Sent Events: a comment line this often (seconds) keeps proxies from closing the stream.
    "BOARDS_SSE_HEARTBEAT": 15.0,
    # Server-Sent Events: the reconnection delay suggested to browsers (milliseconds).
    "BOARDS_SSE_RETRY_MS": 2000,
    # GET requests whose path matches are served by boards.asgi.LeanASGIHandler (see boards/asgi.py);
    # None: the watch and stream paths under wherever the site includes boards.urls.
    "BOARDS_LEAN_PATHS": None,
    # Who may read a private board: a callable (user, board name) -> bool, as a dotted path (boards.access).
    "BOARDS_READ_PERMISSION": "boards.access.staff_only",
    # The context providers of the two pages, as dotted paths (a site may add or replace some).
    "BOARDS_INDEX_PROVIDERS": ["boards.context.board_list"],
    "BOARDS_BOARD_PROVIDERS": [
        "boards.context.board_header",
        "boards.context.board_value",
        "boards.context.notify_form",
    ],
}

# setting(name): the host's value, else the default above (cached until a setting changes).
setting = AppSettings(DEFAULTS)
