"""Rows 5, 7 and 12 of issue 13: idempotency keys per sender, no balance in a rejection the receiver sees,
and one answer for an account that is not yours and one that does not exist."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from ledger.models import Transfer
from ledger.services import account_create

pytestmark = pytest.mark.django_db


def send(client, source, target, amount, key=None):
    body = {"from": source, "to": target, "amount": amount}
    if key:
        body["idempotency_key"] = key
    return client.post(reverse("ledger:transfers"), json.dumps(body), content_type="application/json")


def test_another_users_key_neither_blocks_my_transfer_nor_shows_theirs(client, site, django_user_model):
    carol = django_user_model.objects.create_user(username="carol", password="x")
    account_create(name="carol-main", owner=carol)
    client.force_login(site.bob)
    assert send(client, "bob-main", "carol-main", 1, key="invoice-42").status_code == 201
    client.force_login(site.alice)
    mine = send(client, "alice-main", "bob-main", 7, key="invoice-42")
    assert mine.status_code == 201, mine.content
    assert mine.json()["from"] == "alice-main"
    assert "carol" not in mine.content.decode()
    assert Transfer.objects.filter(idempotency_key="invoice-42").count() == 2
    # The key still replays (and still conflicts) within one sender.
    assert send(client, "alice-main", "bob-main", 7, key="invoice-42").status_code == 200
    conflict = send(client, "alice-main", "bob-main", 8, key="invoice-42")
    assert conflict.status_code == 422
    assert "carol" not in conflict.content.decode()


def test_the_receiver_sees_a_rejection_but_never_the_senders_balance(client, site):
    client.force_login(site.bob)
    rejected = send(client, "bob-main", "alice-main", 999_999)
    assert rejected.status_code == 409
    client.force_login(site.alice)
    page = client.get(reverse("ledger:account", args=["alice-main"]))
    text = page.content.decode()
    assert "rejected" in text
    assert "balance 1000" not in text
    transfer = Transfer.objects.get(amount=999_999)
    assert "1000" not in transfer.reason


def test_the_sender_still_learns_why_their_transfer_was_rejected(client, site):
    client.force_login(site.bob)
    rejected = send(client, "bob-main", "alice-main", 999_999)
    assert rejected.status_code == 409
    assert "insufficient funds" in rejected.json()["message"]
    assert rejected.json()["transfer"]["from_balance"] == 1000


def test_an_account_that_is_not_yours_and_one_that_does_not_exist_get_the_same_answer(client, site):
    client.force_login(site.alice)
    foreign = send(client, "bob-main", "alice-main", 5)
    missing = send(client, "nobody-here", "alice-main", 5)
    assert foreign.status_code == missing.status_code
    assert foreign.json()["error"] == missing.json()["error"]
    assert foreign.json()["message"].replace("bob-main", "X") == missing.json()["message"].replace("nobody-here", "X")
    form = {"from": "bob-main", "to": "alice-main", "amount": "5"}
    page_foreign = client.post(reverse("ledger:transfers"), form, HTTP_ACCEPT="text/html")
    page_missing = client.post(reverse("ledger:transfers"), {**form, "from": "nobody-here"}, HTTP_ACCEPT="text/html")
    assert page_foreign.status_code == page_missing.status_code


def test_an_account_page_not_yours_and_a_missing_one_get_the_same_answer(client, site):
    client.force_login(site.alice)
    foreign = client.get(reverse("ledger:account", args=["bob-main"]))
    missing = client.get(reverse("ledger:account", args=["nobody-here"]))
    assert foreign.status_code == missing.status_code == 404
    assert b"bob-main" not in foreign.content and b"1000" not in foreign.content
