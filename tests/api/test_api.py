"""The API's conventions: one error shape, token and session auth, cursor pages, the apps' permission rules."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.test import Client

from boards.models import Board
from boards.services import board_notify
from chat.models import Room
from chat.services import message_post
from jobs.models import JobRun, RunStatus
from ledger.models import Account
from ledger.services import account_create, transfer_create
from switchboard.models import ApiToken
from switchboard.tokens import token_create, token_revoke
from tests.api.conftest import bearer


def post(client: Client, url: str, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    data = response.json()
    assert isinstance(data["error"], str) and data["error"] and isinstance(data["message"], str), data
    return data


@pytest.fixture
def accounts(db, user, other_user):
    bank = account_create(name="bank", kind=Account.Kind.SYSTEM)
    mine = account_create(name="alice-main", owner=user)
    theirs = account_create(name="bob-main", owner=other_user)
    transfer_create(source=bank, target=mine, amount=1000)
    return mine, theirs


def test_every_error_on_an_api_url_has_the_one_shape(client, settings, user, token, accounts):
    settings.LEDGER_TRANSFER_RATE = 2
    assert error_of(client.get("/api/ledger/accounts"), 401)["error"] == "login_required"
    assert "revoked" in error_of(client.get("/api/ledger/accounts", headers=bearer("sbt_nope")), 401)["message"]
    forged = post(
        client, "/api/ledger/transfers", {"from": "bob-main", "to": "alice-main", "amount": 1}, **bearer(token)
    )
    assert error_of(forged, 403)["error"] == "forbidden"
    assert error_of(client.get("/api/no/such/thing"), 404)["error"] == "not_found"
    assert error_of(client.get("/api/chat/rooms/nowhere"), 404)["error"] == "not_found"
    refused = error_of(client.delete("/api/chat/rooms"), 405)
    assert refused["error"] == "method_not_allowed" and refused["allowed"] == ["GET"]
    invalid = error_of(post(client, "/api/ledger/transfers", {"from": "alice-main"}, **bearer(token)), 422)
    assert invalid["error"] == "invalid" and set(invalid["fields"]) == {"to", "amount"}
    assert error_of(post(client, "/api/ledger/transfers", [1], **bearer(token)), 400)["error"] == "bad_json"
    overdrawn = error_of(
        post(
            client, "/api/ledger/transfers", {"from": "alice-main", "to": "bob-main", "amount": 5000}, **bearer(token)
        ),
        409,
    )
    assert overdrawn["error"] == "insufficient_funds" and overdrawn["transfer"]["status"] == "rejected"
    limited = error_of(
        post(client, "/api/ledger/transfers", {"from": "alice-main", "to": "bob-main", "amount": 1}, **bearer(token)),
        429,
    )
    assert limited["error"] == "rate_limited" and limited["retry_after"] >= 1
    too_big = client.post(
        "/api/chat/rooms/x/messages", b"{}", content_type="application/json", CONTENT_LENGTH=str(10**7)
    )
    assert error_of(too_big, 413)["error"] == "too_large"


def test_a_token_request_needs_no_csrf_token_and_a_session_request_still_does(user, token):
    room = Room.objects.create(slug="csrf-room", title="CSRF")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    refused = error_of(post(browser, f"/api/chat/rooms/{room.slug}/messages", {"text": "forged"}), 403)
    assert refused["error"] == "csrf_failed"
    browser.get("/chat/")  # sets the csrftoken cookie
    cookie = browser.cookies["csrftoken"].value
    sent = post(browser, f"/api/chat/rooms/{room.slug}/messages", {"text": "from the page"}, X_CSRFToken=cookie)
    assert sent.status_code == 201, sent.content
    script = Client(enforce_csrf_checks=True)
    sent = post(script, f"/api/chat/rooms/{room.slug}/messages", {"text": "from a script"}, **bearer(token))
    assert sent.status_code == 201 and sent.json()["author"] == "alice"
    assert [m.text for m in room.messages.order_by("seq")] == ["from the page", "from a script"]


def test_tokens_are_stored_hashed_and_stop_working_when_revoked_or_the_user_is_deactivated(client, user, accounts):
    token, secret = token_create(user=user, name="script")
    assert secret not in {token.digest, token.prefix} and secret.startswith(token.prefix)
    assert not ApiToken.objects.filter(digest=secret).exists()
    assert client.get("/api/ledger/accounts", headers=bearer(secret)).status_code == 200
    user.is_active = False
    user.save()
    assert error_of(client.get("/api/ledger/accounts", headers=bearer(secret)), 401)
    user.is_active = True
    user.save()
    token_revoke(token=token)
    assert error_of(client.get("/api/ledger/accounts", headers=bearer(secret)), 401)


def test_a_token_has_its_users_permissions_no_more(client, user, other_user, token, accounts, staff_token):
    mine = client.get("/api/ledger/accounts", headers=bearer(token)).json()
    assert [a["name"] for a in mine["items"]] == ["alice-main"] and mine["items"][0]["balance"] == 1000
    assert error_of(client.get("/api/ledger/accounts/bob-main", headers=bearer(token)), 404)
    everyone = client.get("/api/ledger/accounts", headers=bearer(staff_token)).json()
    assert [a["name"] for a in everyone["items"]] == ["alice-main", "bank", "bob-main"]
    sent = post(
        client, "/api/ledger/transfers", {"from": "alice-main", "to": "bob-main", "amount": 10}, **bearer(token)
    )
    assert sent.status_code == 201 and sent.json()["from_balance"] == 990
    bob = token_create(user=other_user, name="bob")[1]
    seen_by_receiver = client.get(f"/api/ledger/transfers/{sent.json()['id']}", headers=bearer(bob)).json()
    assert seen_by_receiver["from"] == "alice-main" and seen_by_receiver["from_balance"] is None
    stranger = token_create(user=type(user).objects.create_user("carol"), name="carol")[1]
    assert error_of(client.get(f"/api/ledger/transfers/{sent.json()['id']}", headers=bearer(stranger)), 404)


def test_cursor_pages_walk_every_item_once_newest_first(client, user, token, accounts):
    mine, theirs = accounts
    for amount in range(1, 6):
        transfer_create(source=mine, target=theirs, amount=amount)
    seen, cursor, pages = [], None, 0
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = client.get(f"/api/ledger/accounts/alice-main/transfers{query}", headers=bearer(token)).json()
        seen += [item["amount"] for item in page["items"]]
        pages += 1
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [5, 4, 3, 2, 1, 1000] and pages == 3
    assert error_of(client.get("/api/ledger/accounts?cursor=%%%", headers=bearer(token)), 400)["error"] == "bad_cursor"
    assert error_of(client.get("/api/ledger/accounts?limit=0", headers=bearer(token)), 400)["error"] == "bad_limit"


def test_chat_messages_page_by_seq_and_rooms_list(client, user):
    room = Room.objects.create(slug="paged", title="Paged")
    for n in range(5):
        message_post(room=room, author=user, text=f"m{n}")
    first = client.get("/api/chat/rooms/paged/messages?limit=3").json()
    second = client.get(f"/api/chat/rooms/paged/messages?limit=3&cursor={first['next_cursor']}").json()
    assert [m["seq"] for m in first["items"] + second["items"]] == [1, 2, 3, 4, 5]
    assert second["next_cursor"] is None
    (listed,) = client.get("/api/chat/rooms").json()["items"]
    assert (listed["slug"], listed["title"], listed["last_seq"]) == ("paged", "Paged", 5)


def test_runs_are_the_users_own_unless_staff_and_filter_by_status_and_job(client, user, other_user, token, staff_token):
    JobRun.objects.create(job_id="a1", name="countdown", queue="default", owner=user, status=RunStatus.FINISHED)
    JobRun.objects.create(job_id="a2", name="noop", queue="high", owner=user, status=RunStatus.QUEUED)
    JobRun.objects.create(job_id="b1", name="countdown", queue="default", owner=other_user, status=RunStatus.FINISHED)
    ids = lambda url, secret: [r["id"] for r in client.get(url, headers=bearer(secret)).json()["items"]]  # noqa: E731
    assert ids("/api/jobs/runs", token) == ["a2", "a1"]
    assert ids("/api/jobs/runs?status=finished", token) == ["a1"]
    assert ids("/api/jobs/runs?job=noop", token) == ["a2"]
    assert ids("/api/jobs/runs?job=countdown", staff_token) == ["b1", "a1"]
    assert error_of(client.get("/api/jobs/runs/b1", headers=bearer(token)), 404)
    assert client.get("/api/jobs/runs/b1", headers=bearer(staff_token)).json()["owner"] == "bob"


def test_the_catalog_gives_each_jobs_parameter_schema(client, user, token):
    catalog = {job["name"]: job for job in client.get("/api/jobs/catalog", headers=bearer(token)).json()["items"]}
    steps = catalog["countdown"]["parameters"]["properties"]["steps"]
    assert steps["type"] == "integer" and steps["minimum"] == 1 and catalog["countdown"]["allowed"] is True
    assert catalog["noop"]["parameters"] == {"type": "object", "properties": {}}


def test_boards_list_only_what_the_user_may_read_with_value_and_version(client, user, token, staff_token):
    Board.objects.create(name="open")
    Board.objects.create(name="secret")
    board_notify(name="open", value={"percent": 5})
    board_notify(name="secret", value=1, private=True)
    listed = lambda secret: {b["name"]: b for b in client.get("/api/boards/", headers=bearer(secret)).json()["items"]}  # noqa: E731
    assert set(listed(token)) == {"open"} and listed(token)["open"]["value"] == {"percent": 5}
    assert set(listed(staff_token)) == {"open", "secret"} and listed(staff_token)["secret"]["version"] == 1
    assert error_of(client.get("/api/boards/secret", headers=bearer(token)), 403)
    assert error_of(client.get("/api/boards/secret"), 401)
    watched = client.get("/api/boards/open/watch?ts=0&timeout=0").json()
    assert watched["value"] == {"percent": 5} and watched["ts"] == 1 and "next_update_url" in watched
    user.user_permissions.add(Permission.objects.get(codename="notify_board"))
    notified = client.post("/api/boards/open/notify", b"[1, 2]", content_type="application/json", headers=bearer(token))
    assert notified.json() == {"name": "open", "ts": 2}


def test_the_openapi_document_describes_every_operation_including_the_lean_ones(client):
    schema = client.get("/api/openapi.json").json()
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert {"chat_messages_poll", "chat_messages_stream", "boards_watch", "boards_stream"} <= operations
    assert len(operations) == 20
    stream = schema["paths"]["/api/chat/rooms/{slug}/stream"]["get"]["responses"]["200"]
    assert "text/event-stream" in stream["content"]
    for path in schema["paths"].values():
        for op in path.values():
            assert op["responses"]["422"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorOut"
            }


def test_the_docs_page_loads_its_assets_from_this_site_not_a_cdn(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    sources = [part.split('"')[0] for part in page.content.decode().split('src="')[1:]]
    styles = [part.split('"')[0] for part in page.content.decode().split('href="')[1:]]
    assert sources and all(url.startswith("/static/ninja/") for url in sources + styles), sources + styles
    for url in sources + styles:
        assert finders.find(url.removeprefix("/static/")), url


def test_a_nul_character_is_refused_before_it_reaches_the_database(client, user, token, accounts):
    """PostgreSQL text cannot hold a NUL: such a name or key is a 4xx on both databases, never a 500."""
    body = {"from": "alice\x00main", "to": "bob-main", "amount": 1}
    assert error_of(post(client, "/api/ledger/transfers", body, **bearer(token)), 403)["error"] == "forbidden"
    body = {"from": "alice-main", "to": "bob-main", "amount": 1, "idempotency_key": "k\x00"}
    assert error_of(post(client, "/api/ledger/transfers", body, **bearer(token)), 400)
    assert error_of(client.get("/api/ledger/accounts/alice%00main", headers=bearer(token)), 400)
    assert error_of(client.get("/api/jobs/runs?job=a%00b", headers=bearer(token)), 400)


def test_a_token_client_follows_next_update_url_on_the_api_for_a_private_board(client, staff_token):
    Board.objects.create(name="api-private")
    board_notify(name="api-private", value=1, private=True)
    first = client.get("/api/boards/api-private/watch?ts=0&timeout=0", headers=bearer(staff_token))
    assert first.status_code == 200, first.content
    version = first.json()["ts"]
    # the API's own URL: the page's takes a session, and a token there is refused (401)
    assert first.json()["next_update_url"] == f"/api/boards/api-private/watch?ts={version}"
    board_notify(name="api-private", value=2, private=True)
    second = client.get(first.json()["next_update_url"] + "&timeout=0", headers=bearer(staff_token))
    assert second.status_code == 200, second.content
    assert (second.json()["value"], second.json()["ts"]) == (2, version + 1)


@pytest.mark.django_db(transaction=True)  # the poll reads the room from another thread's connection
def test_a_token_client_polling_a_room_on_the_api_is_sent_back_to_the_api(client, token, user):
    room = Room.objects.create(slug="api-poll", title="API poll")
    message_post(room=room, author=user, text="first")
    first = client.get("/api/chat/rooms/api-poll/poll?after=0&timeout=0", headers=bearer(token))
    assert first.status_code == 200, first.content
    assert first.json()["next_url"] == "/api/chat/rooms/api-poll/poll?after=1&timeout=0"
    assert client.get("/chat/api-poll/poll?after=0&timeout=0").json()["next_url"].startswith("/chat/api-poll/poll?")
