"""ASGI entry point (uvicorn config.asgi:application)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

# Board watch/stream GETs take a lean Django handler (no middleware or per-request thread): see boards/asgi.py.
from boards.asgi import lean_router  # noqa: E402
from switchboard.fanout import capture_send  # noqa: E402
from switchboard.limits import body_size_limit  # noqa: E402

# Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE are refused before they are read (switchboard/limits.py).
# capture_send lets the SSE views' live frames be written by the hub's tick (switchboard/fanout.py).
application = body_size_limit(capture_send(lean_router(django_application)))
