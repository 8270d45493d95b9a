"""The public module siblings use: the jobs app schedules ledger.interface.transfers_resolve."""

from __future__ import annotations

from django.utils.module_loading import import_string

from ledger.interface import account_balance, transfers_resolve
from ledger.models import Transfer
from ledger.services import transfer_submit


def test_transfers_resolve_by_dotted_path_settles_everything_and_counts(funded):
    for amount in (1, 2, 3):
        transfer_submit(source=funded["alice"], target=funded["bob"], amount=amount)
    resolve = import_string("ledger.interface.transfers_resolve")
    assert resolve() == 3
    assert resolve() == 0
    assert not Transfer.objects.filter(status="pending").exists()


def test_transfers_resolve_up_to_a_transfer_id(funded):
    first, _ = transfer_submit(source=funded["alice"], target=funded["bob"], amount=1)
    second, _ = transfer_submit(source=funded["alice"], target=funded["bob"], amount=2)
    assert transfers_resolve(up_to=first.pk) == 1
    assert transfers_resolve(up_to=10**9) == 0  # no such transfer
    assert transfers_resolve(up_to=second.pk) == 1


def test_account_balance_by_name(funded):
    assert account_balance(name="alice-main") == 1000
    assert account_balance(name="nobody") is None
