"""Pages and the HTTP API: exact statuses, login and ownership, CSRF, escaping, pagination."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from ledger.models import Transfer

URL = "/ledger/transfers"


def post_json(client, body, **extra):
    return client.post(URL, data=json.dumps(body), content_type="application/json", **extra)


@pytest.fixture
def alice_client(client, user):
    client.force_login(user)
    return client


# -- pages -------------------------------------------------------------------------------------
def test_index_asks_a_visitor_to_log_in(client, funded):
    html = client.get("/ledger/").content.decode()
    assert "to see your accounts" in html
    assert "alice-main" not in html


def test_index_shows_a_user_only_their_accounts_with_balances(alice_client, funded):
    html = alice_client.get("/ledger/").content.decode()
    assert 'href="/ledger/accounts/alice-main/"' in html
    assert 'data-balance="1000"' in html
    assert "bob-main" not in html and "bank" not in html


def test_index_shows_staff_every_account(client, funded, staff_user):
    client.force_login(staff_user)
    html = client.get("/ledger/").content.decode()
    for name, balance in (("alice-main", 1000), ("bob-main", 500), ("bank", -1500)):
        assert f'href="/ledger/accounts/{name}/"' in html
        assert f'data-balance="{balance}"' in html


def test_account_page_shows_balance_transfers_with_reasons_and_the_form(alice_client, funded):
    post_json(alice_client, {"from": "alice-main", "to": "bob-main", "amount": 5000})
    html = alice_client.get("/ledger/accounts/alice-main/").content.decode()
    assert 'data-balance="1000"' in html
    assert "insufficient funds (balance 10.00 EUR &lt; amount 50.00 EUR)" in html
    assert "badge-rejected" in html and "badge-successful" in html
    assert html.index("5000") < html.index("from bank")  # newest first
    assert 'action="/ledger/transfers"' in html and 'name="idempotency_key"' in html


def test_account_page_needs_login_and_ownership(client, funded, other_user, staff_user):
    assert client.get("/ledger/accounts/alice-main/").status_code == 302
    client.force_login(other_user)
    assert client.get("/ledger/accounts/alice-main/").status_code == 404  # as for an account that does not exist
    assert client.get("/ledger/accounts/nobody/").status_code == 404
    client.force_login(staff_user)
    response = client.get("/ledger/accounts/alice-main/")
    assert response.status_code == 200
    assert b'name="idempotency_key"' not in response.content  # staff may look, not send from a customer's account
    assert b'name="idempotency_key"' in client.get("/ledger/accounts/bank/").content


def test_account_page_is_paginated(alice_client, funded, settings):
    settings.LEDGER_PAGE_SIZE = 2
    for amount in (1, 2, 3):
        post_json(alice_client, {"from": "alice-main", "to": "bob-main", "amount": amount})
    first = alice_client.get("/ledger/accounts/alice-main/").content.decode()
    second = alice_client.get("/ledger/accounts/alice-main/?page=2").content.decode()
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert "from bank" not in first and "from bank" in second
    assert alice_client.get("/ledger/accounts/alice-main/?page=zzz").status_code == 200


# -- the API -----------------------------------------------------------------------------------
def test_a_transfer_answers_201_with_the_successful_transfer(alice_client, funded):
    response = post_json(alice_client, {"from": "alice-main", "to": "bob-main", "amount": 250, "idempotency_key": "a"})
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "successful" and body["amount"] == 250 and body["from_balance"] == 750
    assert (body["from"], body["to"], body["idempotency_key"]) == ("alice-main", "bob-main", "a")
    assert "target_balance" not in body and "to_balance" not in body


def test_a_repeated_idempotency_key_answers_200_with_the_original(alice_client, funded):
    body = {"from": "alice-main", "to": "bob-main", "amount": 250, "idempotency_key": "again"}
    first = post_json(alice_client, body)
    second = post_json(alice_client, body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Transfer.objects.filter(idempotency_key="again").count() == 1
    conflict = post_json(alice_client, {**body, "amount": 251})
    assert conflict.status_code == 422 and conflict.json()["error"] == "idempotency_key_reused"


def test_insufficient_funds_answers_409_and_the_rejected_transfer_stays(alice_client, funded):
    response = post_json(alice_client, {"from": "alice-main", "to": "bob-main", "amount": 1001})
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "insufficient_funds"
    assert body["transfer"]["status"] == "rejected"
    assert Transfer.objects.get(pk=body["transfer"]["id"]).status == "rejected"


@pytest.mark.parametrize(
    "amount, status, code",
    [
        (0, 400, "invalid_amount"),
        (-5, 400, "invalid_amount"),
        ("-5", 400, "invalid_amount"),
        (1.5, 400, "invalid_amount"),
        ("1.5", 400, "invalid_amount"),
        ("ten", 400, "invalid_amount"),
        (None, 400, "invalid_amount"),
        (True, 400, "invalid_amount"),
        ([1], 400, "invalid_amount"),
        (10**12, 400, "invalid_amount"),
        ("9" * 5000, 400, "invalid_amount"),
        ("7", 201, None),
    ],
)
def test_amounts_must_be_whole_positive_and_within_the_maximum(alice_client, funded, amount, status, code):
    response = post_json(alice_client, {"from": "alice-main", "to": "bob-main", "amount": amount})
    assert response.status_code == status
    if code:
        assert response.json()["error"] == code
        assert response.json()["message"]


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"from": "alice-main", "to": "alice-main", "amount": 1}, 400, "same_account"),
        ({"from": "alice-main", "to": "nobody", "amount": 1}, 404, "unknown_account"),
        ({"from": "nobody", "to": "alice-main", "amount": 1}, 403, "forbidden"),  # as for an account not yours
        ({"from": "bob-main", "to": "alice-main", "amount": 1}, 403, "forbidden"),
        ({"from": "bank", "to": "alice-main", "amount": 1}, 403, "forbidden"),
        ({"to": "bob-main", "amount": 1}, 400, "invalid_account"),
        ({"from": 5, "to": "bob-main", "amount": 1}, 400, "invalid_account"),
        ({"from": "alice-main", "to": "bob-main", "amount": 1, "idempotency_key": "k" * 101}, 400, None),
    ],
)
def test_bad_requests_get_the_right_4xx_as_json(alice_client, funded, body, status, code):
    response = post_json(alice_client, body)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    if code:
        assert response.json()["error"] == code
    assert Transfer.objects.count() == 2


@pytest.mark.parametrize("raw", [b"{not json", b"42", b'"text"', b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_or_list_is_a_400(alice_client, funded, raw):
    response = alice_client.post(URL, data=raw, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "bad_json"


def test_staff_may_deposit_from_a_system_account(client, funded, staff_user):
    client.force_login(staff_user)
    response = post_json(client, {"from": "bank", "to": "alice-main", "amount": 100})
    assert response.status_code == 201
    assert post_json(client, {"from": "alice-main", "to": "bob-main", "amount": 1}).status_code == 403


def test_visitors_get_401_from_the_api_and_a_login_redirect_from_a_form(client, funded):
    response = post_json(client, {"from": "alice-main", "to": "bob-main", "amount": 1})
    assert response.status_code == 401 and response.json()["error"] == "login_required"
    response = client.post(URL, {"from": "alice-main", "to": "bob-main", "amount": "1"}, HTTP_ACCEPT="text/html")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(URL).status_code == 405


def test_a_form_post_without_html_accept_is_answered_in_json(alice_client, funded):
    response = alice_client.post(URL, {"from": "alice-main", "to": "bob-main", "amount": "3"})
    assert response.status_code == 201 and response.json()["amount"] == 3


def test_the_page_form_moves_money_and_redirects_with_a_message(alice_client, funded):
    form = {"from": "alice-main", "to": "bob-main", "amount": "40", "idempotency_key": "form-1"}
    response = alice_client.post(URL, form, HTTP_ACCEPT="text/html", follow=True)
    assert response.redirect_chain == [("/ledger/accounts/alice-main/", 302)]
    assert b"Moved 0.40 EUR to bob-main" in response.content and b'data-balance="960"' in response.content
    again = alice_client.post(URL, form, HTTP_ACCEPT="text/html")  # a double submit moves nothing more
    assert again.status_code == 302
    assert Transfer.objects.filter(idempotency_key="form-1").count() == 1


def test_the_page_form_shows_errors_on_the_account_page_escaped(alice_client, funded):
    form = {"from": "alice-main", "to": "<script>alert(1)</script>", "amount": "4"}
    response = alice_client.post(URL, form, HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    rejected = alice_client.post(URL, {**form, "to": "bob-main", "amount": "5000"}, HTTP_ACCEPT="text/html")
    assert rejected.status_code == 409 and b"insufficient funds" in rejected.content
    other = alice_client.post(URL, {**form, "from": "bob-main", "to": "alice-main"}, HTTP_ACCEPT="text/html")
    assert other.status_code == 403 and b"Transfer refused" in other.content


def test_csrf_is_enforced_and_the_header_token_is_accepted(funded, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    body = {"from": "alice-main", "to": "bob-main", "amount": 9}
    assert post_json(client, body).status_code == 403
    assert Transfer.objects.count() == 2
    client.get("/ledger/accounts/alice-main/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    assert post_json(client, body, HTTP_X_CSRFTOKEN=token).status_code == 201


def test_the_page_form_takes_major_units_and_the_page_shows_money(alice_client, funded):
    page = alice_client.get("/ledger/accounts/alice-main/").content.decode()
    assert '<strong data-balance="1000">10.00 EUR</strong>' in page and 'name="units" value="major"' in page
    form = {"from": "alice-main", "to": "bob-main", "amount": "1.25", "units": "major", "idempotency_key": "m-1"}
    response = alice_client.post(URL, form, HTTP_ACCEPT="text/html", follow=True)
    assert Transfer.objects.get(idempotency_key="m-1").amount == 125
    assert b"Moved 1.25 EUR to bob-main" in response.content and b'data-balance="875"' in response.content


@pytest.mark.parametrize("typed", ["1.234", "abc", "1e3", "-1", "0.1.2", "NaN", "1" * 30])
def test_the_page_form_refuses_amounts_that_are_not_money(alice_client, funded, typed):
    form = {"from": "alice-main", "to": "bob-main", "amount": typed, "units": "major"}
    before = Transfer.objects.count()
    response = alice_client.post(URL, form, HTTP_ACCEPT="text/html")
    assert response.status_code == 400 and b"EUR" in response.content
    assert Transfer.objects.count() == before


def test_the_api_keeps_integers_of_minor_units(alice_client, funded):
    response = post_json(alice_client, {"from": "alice-main", "to": "bob-main", "amount": 125})
    assert response.json()["amount"] == 125  # 125 cents, as before: the API speaks minor units
    assert Transfer.objects.get(pk=response.json()["id"]).amount == 125


def test_account_page_draws_the_balance_over_time_as_svg_without_inline_style(alice_client, funded, settings):
    settings.LEDGER_BALANCE_PLOT_POINTS = 3
    for amount in (100, 200, 300):
        post_json(alice_client, {"from": "alice-main", "to": "bob-main", "amount": amount})
    html = alice_client.get("/ledger/accounts/alice-main/").content.decode()
    plot = html[html.index('<figure class="plot-figure ledger-balance-plot">') : html.index("</figure>")]
    assert '<svg class="plot"' in plot and 'data-points="3"' in plot  # bounded to the setting
    assert "<title>Balance of alice-main over time</title>" in plot
    assert "4.00 EUR</text>" in plot and "9.00 EUR</text>" in plot  # min and max of 900, 700, 400 as money
    assert "style=" not in plot and "<script" not in plot  # nothing for the strict CSP to block


def test_an_account_without_two_settled_transfers_has_no_plot(client, db, user):
    from ledger.services import account_create

    account_create(name="empty-one", owner=user)
    client.force_login(user)
    assert "ledger-balance-plot" not in client.get("/ledger/accounts/empty-one/").content.decode()
