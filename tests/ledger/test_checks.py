"""System checks name the bad setting and the fix."""

from __future__ import annotations

import pytest

from ledger.checks import check_database, check_settings


def test_defaults_pass():
    assert check_settings() == []


@pytest.mark.parametrize(
    "name, value",
    [("LEDGER_MAX_TRANSFER_AMOUNT", 0), ("LEDGER_PAGE_SIZE", "25"), ("LEDGER_RESOLVE_BATCH", True)],
)
def test_bad_numbers_are_reported(settings, name, value):
    setattr(settings, name, value)
    [error] = check_settings()
    assert error.id == "ledger.E001" and name in error.msg


def test_an_unknown_balance_source_is_reported(settings):
    settings.LEDGER_BALANCE_SOURCE = "guess"
    [error] = check_settings()
    assert error.id == "ledger.E002" and "'checkpoint' or 'log'" in error.msg


@pytest.mark.parametrize(
    "name, value, code",
    [("LEDGER_MINOR_UNITS", 7, "ledger.E005"), ("LEDGER_MINOR_UNITS", "2", "ledger.E005"),
     ("LEDGER_CURRENCY", None, "ledger.E006"), ("LEDGER_BALANCE_PLOT_POINTS", 0, "ledger.E001")],
)  # fmt: skip
def test_bad_money_and_plot_settings_are_reported(settings, name, value, code):
    setattr(settings, name, value)
    [error] = check_settings()
    assert error.id == code and name in error.msg


def test_the_database_in_use_is_supported():
    assert check_database(databases=["default"]) == []
