"""The ASGI entry point of settings_alone, wrapped as the README tells a host to."""

from switchboard.asgi import get_asgi_application

application = get_asgi_application()
