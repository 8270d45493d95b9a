"""Boards settings with defaults, read when used: setting("BOARDS_MAX_VALUE_BYTES")."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "BOARDS_MAX_VALUE_BYTES": 16 * 1024,
    "BOARDS_KEY_PREFIX": "boards",
}


def setting(name: str) -> Any:
    """The value of a BOARDS_* setting, or its default."""
    return getattr(settings, name, DEFAULTS[name])
