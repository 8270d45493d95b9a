"""An XSS payload stored in every user-supplied field is rendered inert on every page that shows it,
and returned as plain data by the JSON APIs."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.exceptions import ValidationError

from boards.services import board_create, board_notify
from chat.services import message_post, room_create
from jobs.history import history_sync
from jobs.models import JobRun
from ledger.services import account_create
from tests.security.conftest import ESCAPED, XSS

pytestmark = pytest.mark.django_db

LIVE_MARKUP = ["<script>alert(1)", "<img src=x onerror", "onerror=alert(1)>"]


def assert_inert(response, *, shown: int = 1) -> str:
    """The page renders (200) and holds the payload only escaped, at least ``shown`` times."""
    assert response.status_code == 200, response.status_code
    html = response.content.decode()
    for markup in LIVE_MARKUP:
        assert markup not in html, f"{markup!r} is live in {response.request['PATH_INFO']}"
    assert html.count(ESCAPED) >= shown, f"the payload is not shown escaped on {response.request['PATH_INFO']}"
    return html


def test_chat_text_and_room_titles(client, admin_user_, site):
    room = room_create(slug=f"x-{uuid.uuid4().hex[:8]}", title=XSS)
    message_post(room=room, author=site.alice, text=XSS)
    client.force_login(site.alice)
    assert_inert(client.get("/chat/"))
    assert_inert(client.get(f"/chat/{room.slug}/"), shown=2)  # the title and the message
    api = client.get(f"/chat/{room.slug}/messages")
    assert api["Content-Type"] == "application/json"
    assert api["X-Content-Type-Options"] == "nosniff"
    assert api.json()["messages"][0]["text"] == XSS
    client.force_login(admin_user_)
    assert_inert(client.get("/admin/chat/room/"))
    assert_inert(client.get("/admin/chat/message/"))


def test_chat_text_posted_through_the_api_comes_back_as_data(client, site):
    client.force_login(site.alice)
    posted = client.post(f"/chat/{site.room.slug}/messages", json.dumps({"text": XSS}), content_type="application/json")
    assert posted.status_code == 201
    assert posted.json()["text"] == XSS
    assert_inert(client.get(f"/chat/{site.room.slug}/"))


def test_board_values_messages_titles_and_descriptions(client, admin_user_, site):
    plain = f"x-{uuid.uuid4().hex[:12]}"
    board_notify(name=plain, value={"note": XSS})  # any JSON: shown as its JSON text
    board_notify(name=site.board, value={"percent": 40, "message": XSS})  # a progress bar's message
    described = f"x-{uuid.uuid4().hex[:12]}"
    board_create(name=described, title=XSS, description=XSS)
    board_notify(name=described, value=XSS)
    html = assert_inert(client.get("/boards/"), shown=3)
    assert "alert(1)" in html
    assert_inert(client.get(f"/boards/{plain}/"))
    assert_inert(client.get(f"/boards/{site.board}/"))
    assert_inert(client.get(f"/boards/{described}/"), shown=3)  # title, description and value
    watch = client.get(f"/boards/{site.board}/watch")
    assert watch["Content-Type"] == "application/json"
    assert watch["X-Content-Type-Options"] == "nosniff"
    assert watch.json()["value"]["message"] == XSS
    client.force_login(site.staff)
    notified = client.post(f"/boards/{plain}/notify", json.dumps(XSS), content_type="application/json")
    assert notified.status_code == 200
    assert json.loads(client.get(f"/boards/{plain}/watch").content)["value"] == XSS
    client.force_login(admin_user_)
    assert_inert(client.get("/admin/boards/board/"))


def test_job_parameters_results_and_errors(client, admin_user_, site):
    client.force_login(site.alice)
    enqueued = client.post(
        "/jobs/fail/enqueue", json.dumps({"params": {"message": XSS}, "delay": 3600}), content_type="application/json"
    )
    assert enqueued.status_code == 201, enqueued.content
    history_sync()
    JobRun.objects.filter(job_id=enqueued.json()["id"]).update(result=XSS, error=XSS, traceback=XSS)
    run = JobRun.objects.get(job_id=enqueued.json()["id"])
    assert run.arguments == {"message": XSS}
    html = assert_inert(client.get(f"/jobs/runs/{run.job_id}/"), shown=3)  # result, error, traceback (+ arguments)
    assert "\\u003Cscript\\u003E" in html  # the page's JSON for its script is json_script-escaped
    assert_inert(client.get("/jobs/"), shown=0)
    data = client.get(f"/jobs/runs/{run.job_id}.json").json()
    assert (data["arguments"]["message"], data["result"], data["error"]) == (XSS, XSS, XSS)
    client.force_login(admin_user_)
    assert_inert(client.get("/admin/jobs/jobrun/"), shown=0)
    assert_inert(client.get(f"/admin/jobs/jobrun/{run.pk}/change/"), shown=3)


def test_account_names_cannot_hold_markup_and_echoed_names_are_escaped(client, site):
    with pytest.raises(ValidationError):
        account_create(name=XSS)
    client.force_login(site.alice)
    form = {"from": "alice-main", "to": XSS, "amount": "5"}
    page = client.post("/ledger/transfers", form, HTTP_ACCEPT="text/html")
    assert page.status_code == 404  # no such account: the form comes back with the error and the value typed
    html = page.content.decode()
    assert not any(markup in html for markup in LIVE_MARKUP)
    assert ESCAPED in html
    api = client.post("/ledger/transfers", json.dumps(form), content_type="application/json")
    assert api.status_code == 404
    assert XSS in api.json()["message"]
    other = client.post("/ledger/transfers", {"from": XSS, "to": "bob-main", "amount": "5"}, HTTP_ACCEPT="text/html")
    assert other.status_code == 403  # an unknown sender gets what a foreign one gets (issue 13)
    assert not any(markup in other.content.decode() for markup in LIVE_MARKUP)
