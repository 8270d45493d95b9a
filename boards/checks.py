"""System checks for the BOARDS_* settings."""

from __future__ import annotations

import re
from typing import Any

from django.core.checks import Error

from boards.conf import setting


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Each BOARDS_* number is positive, the default watch fits under the cap, the lean pattern compiles."""
    errors = []
    for name in ("BOARDS_MAX_VALUE_BYTES", "BOARDS_WATCH_TIMEOUT", "BOARDS_WATCH_TIMEOUT_MAX", "BOARDS_SSE_HEARTBEAT"):
        value = setting(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            errors.append(Error(f"{name}={value!r} must be a positive number.", id="boards.E001"))
    if not errors and setting("BOARDS_WATCH_TIMEOUT") > setting("BOARDS_WATCH_TIMEOUT_MAX"):
        errors.append(
            Error(
                "BOARDS_WATCH_TIMEOUT is above BOARDS_WATCH_TIMEOUT_MAX.",
                hint="Lower it or raise the cap.",
                id="boards.E002",
            )
        )
    try:
        if setting("BOARDS_LEAN_PATHS") is not None:
            re.compile(setting("BOARDS_LEAN_PATHS"))
    except (re.error, TypeError) as exc:
        errors.append(Error(f"BOARDS_LEAN_PATHS is not a valid regular expression: {exc}.", id="boards.E003"))
    return errors
