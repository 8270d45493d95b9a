"""Selectors: balances from the log, who sees and moves what, and an audit that finds every mismatch."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from ledger.models import Account
from ledger.selectors import (
    account_balance_from_log,
    account_can_send,
    account_can_view,
    account_get,
    accounts_visible,
    balances_from_log,
    ledger_audit,
    transfers_of_account,
)
from ledger.services import InsufficientFunds, account_create, transfer_create


def test_balances_from_the_log_count_only_successful_transfers(funded):
    try:
        transfer_create(source=funded["bob"], target=funded["alice"], amount=10_000)
    except InsufficientFunds:
        pass
    transfer_create(source=funded["alice"], target=funded["bob"], amount=1)
    assert account_balance_from_log(account=funded["alice"]) == 999
    summed = balances_from_log()
    assert summed == {funded["bank"].pk: -1500, funded["alice"].pk: 999, funded["bob"].pk: 501}


def test_staff_see_every_account_users_their_own_visitors_none(funded, user, other_user, staff_user):
    assert [a.name for a in accounts_visible(user=staff_user)] == ["alice-main", "bank", "bob-main"]
    assert [a.name for a in accounts_visible(user=user)] == ["alice-main"]
    assert list(accounts_visible(user=AnonymousUser())) == []


def test_owners_send_from_their_accounts_and_staff_from_system_accounts(funded, user, other_user, staff_user):
    alice, bank = funded["alice"], funded["bank"]
    assert account_can_send(account=alice, user=user)
    assert not account_can_send(account=alice, user=other_user)
    assert not account_can_send(account=alice, user=staff_user)
    assert account_can_send(account=bank, user=staff_user)
    assert not account_can_send(account=bank, user=user)
    assert not account_can_send(account=alice, user=AnonymousUser())
    assert account_can_view(account=alice, user=staff_user) and account_can_view(account=alice, user=user)
    assert not account_can_view(account=alice, user=other_user)


def test_an_accounts_transfers_come_newest_first_in_both_directions(funded):
    transfer_create(source=funded["alice"], target=funded["bob"], amount=5)
    amounts = [t.amount for t in transfers_of_account(account=funded["alice"])]
    assert amounts == [5, 1000]
    assert account_get(name="alice-main") == funded["alice"]
    assert account_get(name="nobody") is None


def test_the_audit_is_clean_on_a_sound_ledger(funded):
    report = ledger_audit()
    assert report.ok and report.settled == 2 and report.total == 0 and report.accounts == 3


def test_the_audit_finds_a_checkpoint_that_disagrees_with_the_log(funded, corrupted_ledger):
    Account.objects.filter(pk=funded["alice"].pk).update(balance=999)
    report = ledger_audit()
    assert not report.ok
    assert "alice-main: checkpoint 999 but the log sums to 1000" in report.problems


def test_the_audit_finds_a_settled_transfer_whose_decision_does_not_replay(funded, corrupted_ledger):
    from django.utils import timezone

    from ledger.models import Transfer

    # Inserted by hand, bypassing the resolver: bob "paid" more than he had.
    Transfer.objects.create(
        source=funded["bob"],
        target=funded["alice"],
        amount=600,
        status="successful",
        settled_seq=10**6,
        resolved=timezone.now(),
        source_balance=-100,
        target_balance=1600,
    )
    problems = ledger_audit().problems
    assert any("takes bob-main below zero" in p for p in problems)
    assert any("checkpoint 500 but the log sums to -100" in p for p in problems)


def test_an_account_without_transfers_has_a_zero_balance(db):
    account = account_create(name="empty")
    assert account_balance_from_log(account=account) == 0
    assert balances_from_log() == {account.pk: 0}


def test_account_balance_points_follow_the_checkpoints_oldest_first_bounded(funded):
    from ledger.selectors import account_balance_points

    alice, bob = funded["alice"], funded["bob"]
    transfer_create(source=alice, target=bob, amount=100)
    transfer_create(source=alice, target=bob, amount=200)
    with pytest.raises(InsufficientFunds):  # rejected: it moves no balance and draws no point
        transfer_create(source=alice, target=bob, amount=5000)
    transfer_create(source=alice, target=bob, amount=300)
    assert [b for _, b in account_balance_points(account=alice, limit=10)] == [1000, 900, 700, 400]
    assert [b for _, b in account_balance_points(account=bob, limit=10)] == [500, 600, 800, 1100]
    assert [b for _, b in account_balance_points(account=alice, limit=2)] == [700, 400]  # the newest N
    assert [b for _, b in account_balance_points(account=funded["bank"], limit=10)] == [-1000, -1500]
    whens = [when for when, _ in account_balance_points(account=alice, limit=10)]
    assert whens == sorted(whens)
