"""ASGI entry point (uvicorn config.asgi:application)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

# Board watch/stream GETs take a lean Django handler (no middleware or per-request thread): see boards/asgi.py.
from boards.asgi import lean_router  # noqa: E402
from boards.conf import setting as lean_setting  # noqa: E402
from switchboard.fanout import capture_send  # noqa: E402
from switchboard.limits import body_size_limit  # noqa: E402

# Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE are refused before they are read (switchboard/limits.py).
# capture_send lets the SSE views' live frames be written by the hub's tick (switchboard/fanout.py).
# The chat SSE stream takes the lean path too: under the full handler each open stream holds a thread of
# its own (Django's per-request ThreadSensitiveContext, for the sync middleware), ~60 KB and a scheduling
# cost per subscriber. The view needs no session: its stream slots count per address there, as boards' do.
LEAN_PATHS = rf"{lean_setting('BOARDS_LEAN_PATHS')}|^/chat/[-a-zA-Z0-9_]+/stream$"
application = body_size_limit(capture_send(lean_router(django_application, pattern=LEAN_PATHS)))
