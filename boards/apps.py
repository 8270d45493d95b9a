from django.apps import AppConfig
from django.core import checks


class BoardsConfig(AppConfig):
    name = "boards"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from boards.checks import check_settings

        checks.register(check_settings, checks.Tags.compatibility)
