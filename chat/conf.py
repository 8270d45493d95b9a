"""Chat settings with defaults, read when used: setting("CHAT_...")."""

from typing import Any

from switchboard.conf import AppSettings

DEFAULTS: dict[str, Any] = {
    # Redis channel of a room is CHAT_CHANNEL_PREFIX + slug; the JSON envelope is in docs/chat.md.
    "CHAT_CHANNEL_PREFIX": "chat:room:",
    # Message text: 1 to CHAT_MAX_TEXT characters after stripping.
    "CHAT_MAX_TEXT": 4000,
    # History API: default and maximum page size.
    "CHAT_PAGE_SIZE": 50,
    "CHAT_MAX_PAGE": 500,
    # Messages rendered by the server on the room page.
    "CHAT_ROOM_HISTORY": 50,
    # A live reader that hears nothing for this many seconds checks the database (lost publishes).
    "CHAT_IDLE_CHECK": 5.0,
    # SSE: a comment line every this many seconds keeps proxies from closing the stream.
    "CHAT_HEARTBEAT": 15.0,
    # SSE reconnection delay the browser is told to use (milliseconds).
    "CHAT_SSE_RETRY_MS": 1000,
    # Posting: at most CHAT_POST_RATE messages per user in any CHAT_POST_RATE_WINDOW seconds (then 429).
    "CHAT_POST_RATE": 30,
    "CHAT_POST_RATE_WINDOW": 10,
    # Long-poll: default and maximum wait in seconds.
    "CHAT_POLL_TIMEOUT": 25.0,
    "CHAT_POLL_MAX_TIMEOUT": 60.0,
    # The pages' context providers (dotted paths; the site-wide providers come first).
    "CHAT_ROOM_PROVIDERS": [
        "chat.context.room_header",
        "chat.context.recent_messages",
        "chat.context.post_form",
    ],
    "CHAT_INDEX_PROVIDERS": [
        "chat.context.room_list",
        "chat.context.room_create_form",
    ],
}

# setting(name): the host's value, else the default above (cached until a setting changes).
setting = AppSettings(DEFAULTS)
