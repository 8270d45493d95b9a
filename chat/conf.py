"""Chat settings with defaults, read when used: setting("CHAT_...")."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {}


def setting(name: str) -> Any:
    """The value of an CHAT_* setting, or its default."""
    return getattr(settings, name, DEFAULTS[name])
