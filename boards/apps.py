from django.apps import AppConfig
from django.core import checks

from boards.checks import check_settings


class BoardsConfig(AppConfig):
    name = "boards"
    default_auto_field = "django.db.models.BigAutoField"
    # switchboard's checks refuse a site without REDIS_URL.
    needs_redis = True
    # What the site shows of this app (switchboard.registry).
    nav_label = "Boards"
    nav_url = "boards:index"
    blurb = "Notice boards: the last value, then every update, live."
    # switchboard.asgi wraps the site's ASGI application with it: watch/stream GETs skip the middleware.
    asgi_wrapper = "boards.asgi.lean_router"

    def ready(self) -> None:
        checks.register(check_settings, checks.Tags.compatibility)
