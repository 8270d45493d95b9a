"""{% load ledger_money %}: {{ amount|money }} shows minor units as money; {{ amount|money_plain }} without the code."""

from django import template

from ledger.money import money_format

register = template.Library()


@register.filter
def money(amount: int | None) -> str:
    return money_format(amount)


@register.filter
def money_plain(amount: int | None) -> str:
    return money_format(amount, currency=False)
