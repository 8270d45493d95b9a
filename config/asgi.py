"""ASGI entry point (uvicorn config.asgi:application)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

# Board watch/stream GETs take a lean Django handler (no middleware or per-request thread): see boards/asgi.py.
from boards.asgi import lean_router  # noqa: E402

application = lean_router(django_application)
