"""Money as a person reads it: integer minor units shown in major units with the currency, and back.

The ledger stores and the JSON API speaks whole minor units (cents). People read and type major units:
``money_format(123456)`` is ``"1,234.56 EUR"`` (grouped and with the decimal separator of the active
locale, through Django's ``number_format``), and ``money_parse("12.34")`` is ``1234``: Decimal, never float.
LEDGER_CURRENCY and LEDGER_MINOR_UNITS (the exponent: 2 for cents, 0 for yen) say which money it is.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.utils.formats import number_format

from ledger.conf import setting

MAJOR_RE = re.compile(r"^[0-9]{1,17}(?:\.[0-9]{1,6})?$")  # digits, optionally a point and a fraction


def money_major(amount: int) -> Decimal:
    """The amount in major units, exactly: 123456 -> Decimal("1234.56") with two minor units."""
    return Decimal(int(amount)).scaleb(-setting("LEDGER_MINOR_UNITS"))


def money_format(amount: int | None, *, currency: bool = True) -> str:
    """Minor units as a person reads them: grouped, in the active locale, with the currency code."""
    if amount is None:
        return ""
    digits = setting("LEDGER_MINOR_UNITS")
    text = number_format(money_major(amount), decimal_pos=digits, use_l10n=True, force_grouping=True)
    return f"{text} {setting('LEDGER_CURRENCY')}" if currency and setting("LEDGER_CURRENCY") else text


def money_parse(text: str) -> int:
    """Major units typed by a person ("12.34", "12") as whole minor units; ValueError saying what to type."""
    digits = setting("LEDGER_MINOR_UNITS")
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "")
    example = "12" if digits == 0 else "12." + "3456789"[:digits]
    if not MAJOR_RE.match(cleaned):
        raise ValueError(f"Amount {text!r} is not an amount: type it in {setting('LEDGER_CURRENCY')}, like {example}.")
    try:
        minor = Decimal(cleaned).scaleb(digits)
    except InvalidOperation:  # pragma: no cover - the pattern only lets decimal digits through
        raise ValueError(f"Amount {text!r} is not an amount.") from None
    if minor != minor.to_integral_value():
        currency = setting("LEDGER_CURRENCY")
        raise ValueError(f"Amount {text!r} has more than {digits} decimal place(s): type {currency} like {example}.")
    return int(minor)
