"""ledger.money: minor units shown as money in the active locale, and major units parsed exactly."""

from decimal import Decimal

import pytest
from django.utils import translation

from ledger.money import money_format, money_major, money_parse


def test_money_format_groups_and_shows_the_currency():
    assert money_format(123456789) == "1,234,567.89 EUR"
    assert money_format(-1500) == "-15.00 EUR"
    assert money_format(5) == "0.05 EUR"
    assert money_format(None) == ""
    assert money_format(100000, currency=False) == "1,000.00"


def test_money_format_follows_the_settings(settings):
    settings.LEDGER_CURRENCY, settings.LEDGER_MINOR_UNITS = "JPY", 0
    assert money_format(123456) == "123,456 JPY"
    settings.LEDGER_CURRENCY, settings.LEDGER_MINOR_UNITS = "KWD", 3
    assert money_format(1234567) == "1,234.567 KWD"
    assert money_major(1234567) == Decimal("1234.567")


def test_money_format_uses_the_active_locale():
    with translation.override("de"):
        assert money_format(123456789) == "1.234.567,89 EUR"


def test_money_major_is_exact_for_huge_amounts():
    assert money_major(2**62) == Decimal(2**62) / 100  # no float rounding anywhere


@pytest.mark.parametrize(
    ("typed", "minor"),
    [
        ("12.34", 1234),
        ("12", 1200),
        ("0.5", 50),
        (" 1,000.00 ", 100000),
        ("0.10", 10),
        ("92233720368547758.07", 2**63 - 1),
    ],
)
def test_money_parse_reads_major_units_exactly(typed, minor):
    assert money_parse(typed) == minor


@pytest.mark.parametrize("typed", ["", "1.234", "-1", "1e3", "NaN", "inf", "1.2.3", "12,34.5x", "0x10"])
def test_money_parse_refuses_what_is_not_money(typed):
    with pytest.raises(ValueError, match="Amount"):
        money_parse(typed)


def test_money_parse_follows_the_exponent(settings):
    settings.LEDGER_MINOR_UNITS = 0
    assert money_parse("12") == 12
    with pytest.raises(ValueError, match="decimal place"):
        money_parse("12.5")


def test_the_filters_render_in_templates():
    from django.template import Context, Template

    html = Template("{% load ledger_money %}{{ a|money }}|{{ a|money_plain }}").render(Context({"a": 250050}))
    assert html == "2,500.50 EUR|2,500.50"
