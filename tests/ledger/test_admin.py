"""Admin: accounts with balances; transfers read-only, filterable, with a resolve action."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from ledger.models import Transfer
from ledger.services import transfer_submit, transfers_resolve


@pytest.fixture
def admin_client(client, admin_user_):
    client.force_login(admin_user_)
    return client


def test_account_list_shows_balances(admin_client, funded):
    html = admin_client.get("/admin/ledger/account/").content.decode()
    assert "alice-main" in html and "-15.00 EUR" in html  # money as money, not minor units


def test_an_accounts_kind_cannot_change_once_created(admin_client, funded):
    html = admin_client.get(f"/admin/ledger/account/{funded['bank'].pk}/change/").content.decode()
    assert 'name="kind"' not in html
    assert 'name="kind"' in admin_client.get("/admin/ledger/account/add/").content.decode()


def test_transfers_are_read_only(admin_client, funded):
    transfer = Transfer.objects.first()
    assert admin_client.get("/admin/ledger/transfer/add/").status_code == 403
    assert admin_client.get(f"/admin/ledger/transfer/{transfer.pk}/delete/").status_code == 403
    change = admin_client.get(f"/admin/ledger/transfer/{transfer.pk}/change/")
    assert change.status_code == 200 and b'name="amount"' not in change.content
    admin_client.post(f"/admin/ledger/transfer/{transfer.pk}/change/", {"amount": 1})
    assert Transfer.objects.get(pk=transfer.pk).amount == transfer.amount


def test_transfers_filter_by_status_and_account(admin_client, funded):
    transfer_submit(source=funded["alice"], target=funded["bob"], amount=77)
    pending = admin_client.get("/admin/ledger/transfer/?status__exact=pending").content.decode()
    assert ">0.77 EUR<" in pending and ">10.00 EUR<" not in pending
    bob = admin_client.get(f"/admin/ledger/transfer/?account={funded['bob'].pk}").content.decode()
    assert ">0.77 EUR<" in bob and ">5.00 EUR<" in bob and ">10.00 EUR<" not in bob
    transfers_resolve()


def test_the_resolve_action_settles_pending_transfers_up_to_the_selection(admin_client, funded):
    first, _ = transfer_submit(source=funded["alice"], target=funded["bob"], amount=10)
    second, _ = transfer_submit(source=funded["alice"], target=funded["bob"], amount=20)
    response = admin_client.post(
        "/admin/ledger/transfer/", {"action": "resolve_pending", "_selected_action": [first.pk]}, follow=True
    )
    assert b"Settled 1 pending transfer" in response.content
    assert Transfer.objects.get(pk=first.pk).status == "successful"
    assert Transfer.objects.get(pk=second.pk).status == "pending"
    admin_client.post("/admin/ledger/transfer/", {"action": "resolve_pending", "_selected_action": [second.pk]})
    assert Transfer.objects.get(pk=second.pk).status == "successful"


def test_the_resolve_action_needs_its_permission(client, funded, staff_user, pending_allowed):
    staff_user.user_permissions.add(Permission.objects.get(codename="view_transfer"))
    client.force_login(staff_user)
    html = client.get("/admin/ledger/transfer/").content.decode()
    assert "resolve_pending" not in html
    pending, _ = transfer_submit(source=funded["alice"], target=funded["bob"], amount=10)
    client.post("/admin/ledger/transfer/", {"action": "resolve_pending", "_selected_action": [pending.pk]})
    assert Transfer.objects.get(pk=pending.pk).status == "pending"
    staff_user.user_permissions.add(Permission.objects.get(codename="resolve_transfer"))
    client.post("/admin/ledger/transfer/", {"action": "resolve_pending", "_selected_action": [pending.pk]})
    assert Transfer.objects.get(pk=pending.pk).status == "successful"
