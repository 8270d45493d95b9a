"""System checks on CHAT_* settings."""

from chat.apps import check_settings


def test_defaults_pass_the_checks():
    assert check_settings() == []


def test_non_positive_or_wrong_type_settings_are_errors(settings):
    settings.CHAT_IDLE_CHECK = 0
    settings.CHAT_MAX_TEXT = "4000"
    errors = check_settings()
    assert {e.id for e in errors} == {"chat.E001"}
    assert any("CHAT_IDLE_CHECK is 0" in e.msg for e in errors)
    assert any("CHAT_MAX_TEXT is '4000'" in e.msg for e in errors)


def test_poll_default_above_maximum_is_an_error(settings):
    settings.CHAT_POLL_TIMEOUT = 90
    assert [e.id for e in check_settings()] == ["chat.E002"]
