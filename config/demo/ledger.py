"""Demo data: a system account and two accounts of the demo admin, each with a deposit (idempotent)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from ledger.models import Account
from ledger.services import transfer_create

DEPOSIT = 100_000


def demo_load(*, admin: AbstractBaseUser) -> str:
    """Create the demo accounts and deposits unless they exist."""
    bank, _ = Account.objects.get_or_create(name="bank", defaults={"kind": Account.Kind.SYSTEM})
    names = []
    for suffix in ("checking", "savings"):
        name = f"{admin.get_username()}-{suffix}"
        account, _ = Account.objects.get_or_create(name=name, defaults={"owner": admin})
        # The idempotency key makes a second run return the first deposit instead of paying twice.
        transfer_create(source=bank, target=account, amount=DEPOSIT, idempotency_key=f"demo-deposit-{name}")
        names.append(name)
    return f"accounts {', '.join(names)} with a deposit of {DEPOSIT} each from 'bank'"
