"""An ASGI entry point that forgets switchboard's wrapper (for the checks' tests)."""

from django.core.asgi import get_asgi_application

application = get_asgi_application()
