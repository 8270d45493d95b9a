"""One settings helper for every app: app-prefixed settings with in-app defaults, read when used.

Like django-debug-toolbar's ``settings.py``: a value is looked up once and cached (an unset setting costs
Django an AttributeError per read, and some are read per job or per message); the cache is cleared on
``setting_changed``, so ``override_settings`` and pytest-django's ``settings`` fixture work::

    DEFAULTS = {"CHAT_PAGE_SIZE": 50}
    setting = AppSettings(DEFAULTS)
    setting("CHAT_PAGE_SIZE")
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed


class AppSettings:
    """The settings of one app: ``setting(name)`` is the host's value, else the app's default."""

    def __init__(self, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._cache: dict[str, Any] = {}
        setting_changed.connect(self._forget, weak=False)

    def __call__(self, name: str) -> Any:
        try:
            return self._cache[name]
        except KeyError:
            pass
        if name not in self.defaults:
            raise KeyError(f"{name} is not a setting of this app: known ones are {', '.join(sorted(self.defaults))}.")
        value = self._cache[name] = getattr(settings, name, self.defaults[name])
        return value

    def _forget(self, **kwargs: Any) -> None:
        self._cache.clear()
