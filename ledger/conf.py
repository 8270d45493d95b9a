"""Ledger settings with defaults, read when used: setting("LEDGER_...")."""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {}


def setting(name: str) -> Any:
    """The value of an LEDGER_* setting, or its default."""
    return getattr(settings, name, DEFAULTS[name])
