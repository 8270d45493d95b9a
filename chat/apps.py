from django.apps import AppConfig
from django.core import checks

from chat.conf import setting


class ChatConfig(AppConfig):
    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"
    # switchboard's checks refuse a site without REDIS_URL.
    needs_redis = True
    # What the site shows of this app (switchboard.registry).
    nav_label = "Chat"
    nav_url = "chat:index"
    blurb = "Rooms with durable history and gapless live delivery."

    def ready(self) -> None:
        checks.register(check_settings, "chat")


POSITIVE_NUMBERS = ["CHAT_IDLE_CHECK", "CHAT_HEARTBEAT", "CHAT_POLL_MAX_TIMEOUT"]
POSITIVE_INTEGERS = [
    "CHAT_MAX_TEXT",
    "CHAT_PAGE_SIZE",
    "CHAT_MAX_PAGE",
    "CHAT_ROOM_HISTORY",
    "CHAT_POST_RATE",
    "CHAT_POST_RATE_WINDOW",
]


def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """CHAT_* settings must be positive numbers where they are durations or sizes."""
    errors = []
    for name in POSITIVE_NUMBERS + POSITIVE_INTEGERS:
        value = setting(name)
        integral = name in POSITIVE_INTEGERS
        ok = isinstance(value, int if integral else (int, float)) and not isinstance(value, bool) and value > 0
        if not ok:
            kind = "a positive integer" if integral else "a positive number of seconds"
            errors.append(checks.Error(f"{name} is {value!r}: set it to {kind}.", id="chat.E001"))
    if not errors and setting("CHAT_POLL_TIMEOUT") > setting("CHAT_POLL_MAX_TIMEOUT"):
        errors.append(checks.Error("CHAT_POLL_TIMEOUT is above CHAT_POLL_MAX_TIMEOUT: lower it.", id="chat.E002"))
    return errors
