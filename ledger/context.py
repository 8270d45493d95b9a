"""Context providers for ledger pages: plain functions that only read."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest
from django.utils.formats import date_format
from django.utils.timezone import localtime

from ledger.conf import setting
from ledger.models import Account
from ledger.money import money_format
from ledger.selectors import account_balance_points, account_can_send, accounts_visible, transfers_of_account
from switchboard.providers import Provider, providers_from_setting
from switchboard.svg import line_plot


def accounts_overview(request: HttpRequest, **_: Any) -> dict[str, Any]:
    """The accounts the viewer may see, with their balances."""
    accounts = list(accounts_visible(user=request.user))
    return {"accounts": accounts, "accounts_scope": "all" if request.user.is_staff else "own"}


def account_header(request: HttpRequest, *, account: Account, **_: Any) -> dict[str, Any]:
    """The account and its balance."""
    return {"account": account, "ledger_currency": setting("LEDGER_CURRENCY")}


def account_balance_plot(request: HttpRequest, *, account: Account, **_: Any) -> dict[str, Any]:
    """The account's balance over its last LEDGER_BALANCE_PLOT_POINTS settled transfers, as an SVG line."""
    points = account_balance_points(account=account, limit=setting("LEDGER_BALANCE_PLOT_POINTS"))
    labelled = [(date_format(localtime(when), "DATETIME_FORMAT"), balance) for when, balance in points]
    return {
        "balance_plot": line_plot(labelled, title=f"Balance of {account.name} over time", label=money_format),
        "balance_plot_points": len(points),
    }


def account_transfers(request: HttpRequest, *, account: Account, page_number: Any = 1, **_: Any) -> dict[str, Any]:
    """One page of the account's transfers, newest first, seen from this account's side."""
    page = Paginator(transfers_of_account(account=account), setting("LEDGER_PAGE_SIZE")).get_page(page_number)
    rows = []
    for transfer in page.object_list:
        outgoing = transfer.source_id == account.pk
        rows.append(
            {
                "transfer": transfer,
                "direction": "out" if outgoing else "in",
                "counterparty": transfer.target if outgoing else transfer.source,
                "signed_amount": -transfer.amount if outgoing else transfer.amount,
                "balance_after": transfer.source_balance if outgoing else transfer.target_balance,
                # Only the sender's side shows the balance a rejection was decided on; the receiver never sees it.
                "reason_detail": (
                    f"(balance {money_format(transfer.source_balance)} < amount {money_format(transfer.amount)})"
                    if outgoing and transfer.status == "rejected" and transfer.source_balance is not None
                    else ""
                ),
            }
        )
    return {"transfers_page": page, "transfer_rows": rows}


def transfer_form(
    request: HttpRequest,
    *,
    account: Account,
    form_values: dict[str, str] | None = None,
    form_error: str = "",
    **_: Any,
) -> dict[str, Any]:
    """The transfer form, shown to whoever may send from this account; a fresh idempotency key per render."""
    values = form_values or {}
    return {
        "transfer_form": {
            "show": account_can_send(account=account, user=request.user),
            "to": values.get("to", ""),
            "amount": values.get("amount", ""),
            "idempotency_key": values.get("idempotency_key") or uuid.uuid4().hex,
            "error": form_error,
            "currency": setting("LEDGER_CURRENCY"),
            "example": money_format(1234, currency=False),
        }
    }


def index_providers() -> list[Provider]:
    """The index page's providers (LEDGER_INDEX_PROVIDERS)."""
    return providers_from_setting("LEDGER_INDEX_PROVIDERS", setting("LEDGER_INDEX_PROVIDERS"))


def account_providers() -> list[Provider]:
    """The account page's providers (LEDGER_ACCOUNT_PROVIDERS)."""
    return providers_from_setting("LEDGER_ACCOUNT_PROVIDERS", setting("LEDGER_ACCOUNT_PROVIDERS"))


def request_error(request: HttpRequest, *, error_message: str, **_: Any) -> dict[str, Any]:
    """The message of a refused request."""
    return {"error_message": error_message}
