"""Reading a transfer request (JSON API, the old JSON endpoint, the page's form): parse, check, move the money.

Shared by ledger.views and ledger.api: a refused request raises RequestError (HTTP status, code, message).
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest

from ledger.models import Account, Transfer
from ledger.money import money_parse
from ledger.selectors import account_can_send
from ledger.services import (
    MAX_KEY_LENGTH,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidTransfer,
    LedgerError,
    amount_validate,
    transfer_create,
)
from switchboard.http import BadRequest

INTEGER_RE = re.compile(r"^-?[0-9]{1,19}$")  # longer is over any maximum; int() of huge strings is slow


class RequestError(BadRequest):
    """A transfer request the API refuses: HTTP status, error code and a message saying what to fix."""

    def __init__(self, status: int, code: str, message: str, transfer: Transfer | None = None) -> None:
        super().__init__(message, code=code, status=status)
        self.transfer = transfer


def transfer_json(transfer: Transfer) -> dict[str, Any]:
    """A transfer as the API shows it (the sender's balance after, never the receiver's)."""
    return {
        "id": transfer.pk,
        "from": transfer.source.name,
        "to": transfer.target.name,
        "amount": transfer.amount,
        "status": transfer.status,
        "reason": transfer.reason,
        "idempotency_key": transfer.idempotency_key,
        "created": transfer.created.isoformat(),
        "resolved": transfer.resolved.isoformat() if transfer.resolved else None,
        "settled_seq": transfer.settled_seq,
        "from_balance": transfer.source_balance,
    }


def amount_parse(value: Any, *, units: Any = None) -> int:
    if units == "major" and isinstance(value, str):
        # The page's form: a person types major units ("12.34"); the JSON API and scripts send minor units.
        try:
            value = money_parse(value)
        except ValueError as exc:
            raise RequestError(400, "invalid_amount", str(exc)) from None
    elif isinstance(value, str) and INTEGER_RE.match(value.strip()):
        value = int(value.strip())
    try:
        return amount_validate(amount=value)
    except InvalidTransfer as exc:
        raise RequestError(400, "invalid_amount", str(exc))


def transfer_item_parse(
    request: HttpRequest, data: dict[str, Any], accounts: dict[str, Account]
) -> tuple[Account, Account, int, str | None]:
    """Validate (400), find the accounts (404), check the sender (403): (source, target, amount, key)."""
    source_name, target_name, key = data.get("from"), data.get("to"), data.get("idempotency_key") or None
    for field, value in (("from", source_name), ("to", target_name)):
        if not isinstance(value, str) or not value.strip():
            raise RequestError(400, "invalid_account", f"Give {field!r} as an account name.")
    if key is not None and (not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or "\x00" in key):
        raise RequestError(400, "invalid_idempotency_key", f"An idempotency key is a string of 1 to {MAX_KEY_LENGTH}.")
    amount = amount_parse(data.get("amount"), units=data.get("units"))
    if source_name == target_name:
        raise RequestError(400, "same_account", "'from' and 'to' are the same account: pick another target.")
    source = accounts.get(source_name)
    if source is None or not account_can_send(account=source, user=request.user):
        # One answer whether the account exists or not: account names cannot be enumerated through 'from'.
        raise RequestError(403, "forbidden", f"You may not move money from {source_name!r}: it is not your account.")
    if target_name not in accounts:
        raise RequestError(404, "unknown_account", f"There is no account named {target_name!r}.")
    return source, accounts[target_name], amount, key


def transfer_make(request: HttpRequest, data: dict[str, Any]) -> Transfer:
    """Parse and check the request, then move the money."""
    names = [name for name in (data.get("from"), data.get("to")) if isinstance(name, str)]
    source, target, amount, key = transfer_item_parse(request, data, accounts_named(names))
    try:
        return transfer_create(source=source, target=target, amount=amount, idempotency_key=key)
    except InsufficientFunds as exc:
        raise RequestError(409, exc.code, str(exc), exc.transfer)
    except IdempotencyConflict as exc:
        raise RequestError(422, exc.code, str(exc))
    except LedgerError as exc:
        raise RequestError(400, exc.code, str(exc))


def accounts_named(names: list[str]) -> dict[str, Account]:
    # No account name holds a NUL (PostgreSQL text cannot): such a name matches none, without asking.
    return {a.name: a for a in Account.objects.filter(name__in={name for name in names if "\x00" not in name})}
