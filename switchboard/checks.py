"""System checks for what a host site forgets when it adds an app; each message says how to fix it."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

WRAPPER_COST = (
    "without it, the apps' long-lived watch and stream requests run the whole middleware stack in a thread "
    "each (measured: 18x slower wake-up at 5,000 board watchers), and a body over DATA_UPLOAD_MAX_MEMORY_SIZE "
    "gets Django's HTML 400 instead of the JSON 413"
)
ASGI_FIX = (
    "In your asgi.py: `from switchboard.asgi import get_asgi_application` then "
    "`application = get_asgi_application()`, and set ASGI_APPLICATION = '<yoursite>.asgi.application'."
)
WHITENOISE = "whitenoise.middleware.WhiteNoiseMiddleware"


def check_redis(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """switchboard.E001: an installed app needs Redis (AppConfig.needs_redis) and REDIS_URL is not set."""
    if getattr(settings, "REDIS_URL", None):
        return []
    needing = [config.label for config in apps.get_app_configs() if getattr(config, "needs_redis", False)]
    if not needing:
        return []
    return [
        checks.Error(
            f"REDIS_URL is not set, and the installed app(s) {', '.join(needing)} need Redis.",
            hint="Set REDIS_URL in your settings, e.g. REDIS_URL = 'redis://127.0.0.1:6379/0' "
            "(or unix:///path/to/redis.sock?db=0).",
            id="switchboard.E001",
        )
    ]


def _asgi_application() -> tuple[Any, str]:
    """The site's ASGI application (imported from ASGI_APPLICATION), or None and why not."""
    path = getattr(settings, "ASGI_APPLICATION", None)
    if not path:
        return None, "ASGI_APPLICATION is not set"
    try:
        return import_string(path), ""
    except ImportError as exc:
        return None, f"ASGI_APPLICATION={path!r} does not import ({exc})"


def check_asgi(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """switchboard.W001: the ASGI application is not switchboard's wrapper; W002: no one serves static files."""
    application, problem = _asgi_application()
    if application is not None and not getattr(application, "switchboard_wrapped", False):
        problem = f"ASGI_APPLICATION={settings.ASGI_APPLICATION!r} is not wrapped by switchboard.asgi"
    found: list[checks.CheckMessage] = []
    if problem:
        found.append(checks.Warning(f"{problem}: {WRAPPER_COST}.", hint=ASGI_FIX, id="switchboard.W001"))
    served_elsewhere = getattr(settings, "SWITCHBOARD_SERVE_STATIC", None) is False
    if (
        application is not None
        and not getattr(application, "serves_static", False)
        and not served_elsewhere
        and WHITENOISE not in settings.MIDDLEWARE
    ):
        found.append(
            checks.Warning(
                "Nothing serves the static files under ASGI (uvicorn does not, and DEBUG is off): the apps' "
                "pages load without their CSS and scripts, so live updates never start.",
                hint="Add WhiteNoise (its middleware after SecurityMiddleware), or serve STATIC_ROOT from your "
                "web server and set SWITCHBOARD_SERVE_STATIC = False, or set it to True to let "
                "switchboard.asgi serve them with Django's (development) static files handler.",
                id="switchboard.W002",
            )
        )
    return found
