"""System checks on the BOARDS_* settings."""

from boards.checks import check_settings


def test_defaults_pass():
    assert check_settings() == []


def test_bad_numbers_and_pattern_are_reported(settings):
    settings.BOARDS_WATCH_TIMEOUT = 0
    settings.BOARDS_LEAN_PATHS = "("
    ids = [error.id for error in check_settings()]
    assert ids == ["boards.E001", "boards.E003"]


def test_default_timeout_above_cap_is_reported(settings):
    settings.BOARDS_WATCH_TIMEOUT = 90
    settings.BOARDS_WATCH_TIMEOUT_MAX = 60
    assert [error.id for error in check_settings()] == ["boards.E002"]
