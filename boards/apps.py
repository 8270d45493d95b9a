from django.apps import AppConfig
from django.core import checks

from boards.checks import check_settings


class BoardsConfig(AppConfig):
    name = "boards"
    default_auto_field = "django.db.models.BigAutoField"
    # What the site shows of this app (switchboard.registry).
    nav_label = "Boards"
    nav_url = "boards:index"
    blurb = "Notice boards: the last value, then every update, live."

    def ready(self) -> None:
        checks.register(check_settings, checks.Tags.compatibility)
