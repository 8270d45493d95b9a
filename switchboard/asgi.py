"""The ASGI application a site serves: Django's, wrapped for the installed apps.

A host's ``asgi.py``::

    import os

    from switchboard.asgi import get_asgi_application

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    application = get_asgi_application()

and ``ASGI_APPLICATION = "mysite.asgi.application"`` in its settings (the system checks read it). Wrapped in
order, innermost first:

- each installed app's ``AppConfig.asgi_wrapper`` (a dotted path to ``wrapper(app) -> app``; an app may
  route its long-lived watch/stream GETs past the middleware stack with it);
- ``switchboard.fanout.capture_send``: makes each request's ``send`` reachable by its SSE view (direct writes);
- the static files (``django.contrib.staticfiles``' ASGI handler) when SWITCHBOARD_SERVE_STATIC is True,
  or is None (the default) and DEBUG is on: uvicorn serves no static file by itself (use WhiteNoise or
  your web server in production);
- ``switchboard.limits.body_size_limit``: a body over DATA_UPLOAD_MAX_MEMORY_SIZE gets the JSON 413 before
  it is read.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.asgi import get_asgi_application as django_asgi_application
from django.utils.module_loading import import_string

from switchboard.fanout import capture_send


def serve_static() -> bool:
    """Whether the wrapper serves static files (SWITCHBOARD_SERVE_STATIC; None: when DEBUG)."""
    value = getattr(settings, "SWITCHBOARD_SERVE_STATIC", None)
    if value is None:
        value = settings.DEBUG
    return bool(value) and apps.is_installed("django.contrib.staticfiles")


def wrap(application: Any) -> Any:
    """``application`` (Django's ASGI handler) wrapped for the installed apps, static files and body size."""
    for config in apps.get_app_configs():
        path = getattr(config, "asgi_wrapper", "")
        if path:
            application = import_string(path)(application)
    # The SSE views' live frames are written by the hub's tick through the connection's send (switchboard.fanout).
    application = capture_send(application)
    static = serve_static()
    if static:
        # Imported here: it is contrib.staticfiles' (optional) and loads the static finders.
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        application = ASGIStaticFilesHandler(application)
    # Imported once Django is set up: switchboard.limits loads the auth backends, hence the auth models, and a
    # host's asgi.py imports this module before get_asgi_application() sets Django up.
    from switchboard.limits import body_size_limit

    wrapped = body_size_limit(application)
    wrapped.switchboard_wrapped = True  # type: ignore[attr-defined]
    wrapped.serves_static = static  # type: ignore[attr-defined]
    return wrapped


def get_asgi_application() -> Any:
    """Django's ASGI application (django.setup() included), wrapped by ``wrap``."""
    return wrap(django_asgi_application())
