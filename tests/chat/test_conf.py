"""Settings are read when used, with in-app defaults."""

from chat.conf import DEFAULTS, setting


def test_default_applies_when_the_setting_is_absent():
    assert setting("CHAT_MAX_TEXT") == DEFAULTS["CHAT_MAX_TEXT"] == 4000


def test_override_is_read_when_used(settings):
    settings.CHAT_MAX_TEXT = 10
    assert setting("CHAT_MAX_TEXT") == 10
