"""Operator commands: clear output, and CommandError with a fix on bad input."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ledger.models import Account, Transfer
from ledger.services import transfer_submit


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_account_create_makes_customer_and_system_accounts(db, user):
    assert "Created customer account 'alice-x' (owner: alice)" in run(
        "ledger_account_create", "alice-x", "--owner", "alice"
    )
    assert "Created system account 'mint'" in run("ledger_account_create", "mint", "--kind", "system")
    assert Account.objects.get(name="alice-x").owner == user


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["ledger_account_create", "bank"],
            "Cannot create account 'bank': name: Account with this Name already exists.",
        ),
        (["ledger_account_create", "bad name"], "Cannot create account 'bad name'"),
        (["ledger_account_create", "ok", "--owner", "ghost"], "There is no user 'ghost'"),
    ],
)
def test_account_create_refuses_bad_input(bank, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_transfer_moves_money_and_a_key_makes_it_idempotent(funded):
    assert "alice-main -> bob-main 0.30 EUR successful" in run(
        "ledger_transfer", "alice-main", "bob-main", "30", "--key", "c1"
    )
    assert "already done with this key" in run("ledger_transfer", "alice-main", "bob-main", "30", "--key", "c1")
    assert Account.objects.get(name="alice-main").balance == 970


@pytest.mark.parametrize(
    "args, message",
    [
        (["alice-main", "bob-main", "5000"], r"Rejected: Transfer #\d+ was rejected: insufficient funds"),
        (["alice-main", "bob-main", "1.5"], "'1.5' is not a whole number"),
        (["alice-main", "bob-main", "0"], "must be positive"),
        (["alice-main", "nobody", "1"], "There is no account 'nobody'"),
        (["alice-main", "alice-main", "1"], "same account"),
    ],
)
def test_transfer_refuses_bad_input_and_rejections(funded, args, message):
    with pytest.raises(CommandError, match=message):
        run("ledger_transfer", *args)


def test_resolve_settles_what_crashed_clients_left_pending(funded):
    transfer_submit(source=funded["alice"], target=funded["bob"], amount=5)
    transfer_submit(source=funded["bob"], target=funded["alice"], amount=5)
    assert "Settled 2 pending transfer(s)." in run("ledger_resolve")
    assert not Transfer.objects.filter(status="pending").exists()
    with pytest.raises(CommandError, match="negative"):
        run("ledger_resolve", "--interval", "-1", "--loop")


def test_balances_lists_every_account_and_the_total(funded):
    out = run("ledger_balances")
    assert "alice-main" in out and "10.00 EUR" in out and "-15.00 EUR" in out
    assert "3 account(s), total 0.00 EUR" in out


def test_audit_passes_on_a_sound_ledger_and_fails_on_a_broken_checkpoint(funded, corrupted_ledger):
    assert "Audit OK: 3 account(s), 2 settled transfer(s), 0 pending, total 0." in run("ledger_audit")
    Account.objects.filter(name="bob-main").update(balance=499)
    with pytest.raises(CommandError, match="Audit FAILED with 1 problem"):
        run("ledger_audit")
