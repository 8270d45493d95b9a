"""Ledger fixtures: accounts, funding, and a check after every test that checkpoints match the full SUM."""

from __future__ import annotations

import pytest

from ledger.models import Account
from ledger.selectors import ledger_audit
from ledger.services import account_create, transfer_create


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The shared user fixtures hash passwords; the default hasher costs seconds per test on this box."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def balances_match_the_log(request, fast_password_hashing):
    """After every test that touched the database: checkpoints equal the log's SUM and every decision replays."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    uses_db = marker is not None or bool({"db", "transactional_db"} & names)
    if uses_db:
        transactional = "transactional_db" in names or (marker is not None and marker.kwargs.get("transaction"))
        request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    if uses_db and "corrupted_ledger" not in names:
        report = ledger_audit()
        assert report.ok, report.problems
        assert report.pending == 0 or "pending_allowed" in names


@pytest.fixture
def bank(db) -> Account:
    return account_create(name="bank", kind=Account.Kind.SYSTEM)


@pytest.fixture
def alice_account(db, user) -> Account:
    return account_create(name="alice-main", owner=user)


@pytest.fixture
def bob_account(db, other_user) -> Account:
    return account_create(name="bob-main", owner=other_user)


@pytest.fixture
def funded(bank, alice_account, bob_account) -> dict[str, Account]:
    """alice-main holds 1000 and bob-main 500, deposited from the system account 'bank'."""
    transfer_create(source=bank, target=alice_account, amount=1000)
    transfer_create(source=bank, target=bob_account, amount=500)
    for account in (bank, alice_account, bob_account):
        account.refresh_from_db()
    return {"bank": bank, "alice": alice_account, "bob": bob_account}


@pytest.fixture
def pending_allowed():
    """Opt out of the after-test 'nothing pending' check (the test leaves pending transfers on purpose)."""


@pytest.fixture
def corrupted_ledger():
    """Opt out of the after-test audit (the test breaks the ledger on purpose, by hand)."""


def fund_pair(alice_user, bob_user) -> tuple[Account, Account]:
    """For transactional tests (no `db` fixtures): alice-main with 1000, bob-main with 500."""
    bank = account_create(name="bank", kind=Account.Kind.SYSTEM)
    alice = account_create(name="alice-main", owner=alice_user)
    bob = account_create(name="bob-main", owner=bob_user)
    transfer_create(source=bank, target=alice, amount=1000)
    transfer_create(source=bank, target=bob, amount=500)
    return alice, bob
