"""Settings are read when used, with in-app defaults."""

from ledger.conf import DEFAULTS, setting


def test_defaults_apply_and_settings_override_them(settings):
    assert setting("LEDGER_PAGE_SIZE") == DEFAULTS["LEDGER_PAGE_SIZE"] == 25
    settings.LEDGER_PAGE_SIZE = 3
    assert setting("LEDGER_PAGE_SIZE") == 3
