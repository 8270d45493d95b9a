"""The ledger's public module: what sibling apps (and the jobs scheduler) may call."""

from __future__ import annotations

from ledger.models import Transfer
from ledger.selectors import account_get
from ledger.services import transfers_resolve as _transfers_resolve

__all__ = ["account_balance", "transfers_resolve"]


def transfers_resolve(*, up_to: int | None = None) -> int:
    """Settle pending transfers oldest first (up to transfer id ``up_to``, or all); returns how many were settled."""
    target = None
    if up_to is not None:
        target = Transfer.objects.filter(pk=up_to).first()
        if target is None:
            return 0
    return _transfers_resolve(up_to=target)


def account_balance(*, name: str) -> int | None:
    """The balance of the named account in minor units, or None if there is no such account."""
    account = account_get(name=name)
    return None if account is None else account.balance
