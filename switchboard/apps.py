"""Shared plumbing for the Switchboard apps: Redis connections, the pub/sub hub, context providers."""

from django.apps import AppConfig
from django.core import checks

from switchboard.checks import check_asgi, check_redis


class SwitchboardConfig(AppConfig):
    name = "switchboard"
    verbose_name = "Switchboard (shared)"

    def ready(self) -> None:
        checks.register(check_redis, "switchboard")
        checks.register(check_asgi, "switchboard")
        # Imported here: switchboard.limits loads the auth backends, whose models need the app registry ready.
        from switchboard.limits import login_throttle_connect

        login_throttle_connect()
