"""ASGI entry point (uvicorn config.asgi:application): Django, wrapped for the apps by switchboard.asgi."""

import os

from django.core.asgi import get_asgi_application

from switchboard.asgi import wrap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Kept apart for bench/boards_server.py, which compares it with the wrapped application.
django_application = get_asgi_application()
application = wrap(django_application)
