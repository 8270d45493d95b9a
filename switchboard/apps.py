from django.apps import AppConfig


class SwitchboardConfig(AppConfig):
    name = "switchboard"
    verbose_name = "Switchboard (shared)"

    def ready(self) -> None:
        from switchboard.limits import login_throttle_connect

        login_throttle_connect()
