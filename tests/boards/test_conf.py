"""BOARDS_* settings: defaults in the app, overridable by the site, read when used."""

from boards.conf import DEFAULTS, setting


def test_defaults_apply_when_the_site_sets_nothing():
    assert setting("BOARDS_WATCH_TIMEOUT") == DEFAULTS["BOARDS_WATCH_TIMEOUT"] == 25.0
    assert setting("BOARDS_SSE_HEARTBEAT") == 15.0


def test_site_settings_win_and_are_read_when_used(settings):
    settings.BOARDS_MAX_VALUE_BYTES = 123
    assert setting("BOARDS_MAX_VALUE_BYTES") == 123
