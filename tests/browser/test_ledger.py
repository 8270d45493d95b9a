"""Ledger: a transfer that succeeds and one rejected for insufficient funds, as the user sees them; a
transfer from someone else's account is not offered, and refused when the form is forged."""

import re

import pytest
from playwright.sync_api import Page, expect

from ledger.models import Account, Transfer
from ledger.selectors import ledger_audit
from ledger.services import account_create, transfer_create


@pytest.fixture
def accounts(user, other_user) -> dict[str, Account]:
    """alice-main holds 1000 and bob-main 500, deposited from the system account 'bank'."""
    bank = account_create(name="bank", kind=Account.Kind.SYSTEM)
    alice = account_create(name="alice-main", owner=user)
    bob = account_create(name="bob-main", owner=other_user)
    transfer_create(source=bank, target=alice, amount=1000)
    transfer_create(source=bank, target=bob, amount=500)
    return {"bank": bank, "alice": alice, "bob": bob}


def balance(name: str) -> int:
    return Account.objects.get(name=name).balance


def shown_balance(page: Page):
    return page.locator("main strong[data-balance]")


def send(page: Page, *, to: str, amount: str) -> int:
    """Fill the account page's transfer form (major units, as a person types) and submit it; returns the HTTP status."""
    form = page.locator("form.ledger-transfer")
    form.locator("input[name=to]").fill(to)
    form.locator("input[name=amount]").fill(amount)
    with page.expect_navigation() as navigation:
        form.locator("button[type=submit]").click()
    return navigation.value.status


def test_a_transfer_succeeds_and_one_is_rejected_for_insufficient_funds(signed_in, user, accounts, screenshot):
    page = signed_in(user)
    page.goto("/ledger/accounts/alice-main/")
    expect(shown_balance(page)).to_have_text("10.00 EUR")

    assert send(page, to="bob-main", amount="3") == 200  # after the redirect to the account page
    expect(page).to_have_url(re.compile(r"/ledger/accounts/alice-main/$"))
    sent = Transfer.objects.get(source=accounts["alice"], target=accounts["bob"])
    assert (sent.status, sent.amount) == ("successful", 300)
    expect(page.locator(".flash")).to_have_text(f"Moved 3.00 EUR to bob-main (transfer #{sent.pk}).")
    expect(shown_balance(page)).to_have_text("7.00 EUR")
    assert (balance("alice-main"), balance("bob-main")) == (700, 800)
    first_row = page.locator("table.ledger-transfers tbody tr").first
    expect(first_row).to_contain_text("to bob-main")
    expect(first_row).to_contain_text("-3.00")
    expect(first_row.locator(".badge")).to_have_text("successful")

    assert send(page, to="bob-main", amount="50") == 409
    rejected = Transfer.objects.get(source=accounts["alice"], amount=5000)
    assert rejected.status == "rejected"
    alert = page.locator("form.ledger-transfer [role=alert]")
    # The sender (only) is told the balance the rejection was decided on.
    expect(alert).to_have_text(
        f"Transfer #{rejected.pk} was rejected: {rejected.reason} (balance 7.00 EUR < amount 50.00 EUR)."
    )
    expect(alert).to_contain_text("insufficient funds")
    # The balance did not move; the form keeps what was typed, for a retry.
    expect(shown_balance(page)).to_have_text("7.00 EUR")
    assert (balance("alice-main"), balance("bob-main")) == (700, 800)
    expect(page.locator("form.ledger-transfer input[name=amount]")).to_have_value("50")
    first_row = page.locator("table.ledger-transfers tbody tr").first
    expect(first_row.locator(".badge")).to_have_text("rejected")
    screenshot(page, "ledger-account")
    assert not page.problems.besides(409), page.problems
    assert ledger_audit().ok


def test_a_transfer_from_someone_elses_account_is_not_offered_and_refused_when_forged(signed_in, user, accounts):
    page = signed_in(user)
    page.goto("/ledger/")
    expect(page.locator("main")).to_contain_text("alice-main")
    expect(page.locator("main")).not_to_contain_text("bob-main")

    response = page.goto("/ledger/accounts/bob-main/")
    assert response.status == 404  # as for an account that does not exist: names cannot be enumerated
    expect(page.locator("h1")).to_have_text(re.compile("not found", re.IGNORECASE))
    expect(page.locator("form.ledger-transfer")).to_have_count(0)
    expect(page.locator("[data-balance]")).to_have_count(0)  # nor is bob's balance shown

    # Forge alice's own form into one that sends from bob's account.
    page.goto("/ledger/accounts/alice-main/")
    before = Transfer.objects.count()
    page.locator("form.ledger-transfer input[name=from]").evaluate("input => { input.value = 'bob-main'; }")
    assert send(page, to="alice-main", amount="1") == 403
    expect(page.locator("main h1")).to_have_text("Transfer refused")
    expect(page.locator("main [role=alert]")).to_have_text(
        "You may not move money from 'bob-main': it is not your account."
    )
    assert Transfer.objects.count() == before
    assert not Transfer.objects.filter(source=accounts["bob"]).exists()
    assert (balance("alice-main"), balance("bob-main")) == (1000, 500)
    assert ledger_audit().ok
    assert not page.problems.besides(403, 404), page.problems
