"""One JSON error shape everywhere: {"error": code, "message": text}, for 400/401/403/404/405 and CSRF failures
on every JSON URL of the four apps."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.security.endpoints import STATE_CHANGING

CODE = re.compile(r"^[a-z][a-z_]*$")
JSON_CALLS = [
    (endpoint.name, call)
    for endpoint in STATE_CHANGING
    for call, _ in endpoint.anonymous
    if call.json and ":" in endpoint.name
]
# Who may make each JSON call (the first allowed user of its endpoint, else alice).
ALLOWED = {endpoint.name: (endpoint.allowed[0][0] if endpoint.allowed else "alice") for endpoint in STATE_CHANGING}


def assert_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body.get("error"), str) and CODE.match(body["error"]), body
    assert isinstance(body.get("message"), str) and len(body["message"]) > 10, body
    if code is not None:
        assert body["error"] == code, body
    return body


@pytest.mark.parametrize(("name", "call"), JSON_CALLS, ids=[name for name, _ in JSON_CALLS])
def test_anonymous_json_calls_get_401_in_the_shape(client, site, name, call):
    assert_shape(call.send(client, site), 401, "login_required")


@pytest.mark.parametrize(("name", "call"), JSON_CALLS, ids=[name for name, _ in JSON_CALLS])
def test_a_csrf_failure_on_a_json_url_is_a_json_403(site, name, call):
    client = Client(enforce_csrf_checks=True)
    client.force_login(getattr(site, ALLOWED[name]))
    body = assert_shape(call.send(client, site), 403, "csrf_failed")
    assert "X-CSRFToken" in body["message"]


@pytest.mark.parametrize(("name", "call"), JSON_CALLS, ids=[name for name, _ in JSON_CALLS])
def test_a_wrong_method_on_a_json_url_is_a_json_405_with_allow(client, site, name, call):
    client.force_login(site.staff)
    response = client.put(call.url(site), "{}", content_type="application/json")
    body = assert_shape(response, 405, "method_not_allowed")
    assert "POST" in response["Allow"] and "POST" in body["message"]


@pytest.mark.parametrize(
    "url",
    [
        lambda site: reverse("chat:poll", args=[site.room.slug]),
        lambda site: reverse("chat:stream", args=[site.room.slug]),
        lambda site: reverse("boards:watch", args=[site.board]),
        lambda site: reverse("boards:stream", args=[site.board]),
        lambda site: reverse("jobs:run_json", args=[site.run.job_id]),
    ],
    ids=["chat:poll", "chat:stream", "boards:watch", "boards:stream", "jobs:run_json"],
)
def test_read_only_json_urls_answer_a_post_with_a_json_405(client, site, url):
    client.force_login(site.alice)
    assert_shape(client.post(url(site)), 405, "method_not_allowed")


def test_bad_parameters_unknown_objects_and_refusals_share_the_shape(client, site):
    client.force_login(site.alice)
    assert_shape(client.get(reverse("chat:messages", args=[site.room.slug]) + "?after=-1"), 400, "bad_request")
    assert_shape(client.get(reverse("chat:messages", args=["nowhere"])), 404, "not_found")
    assert_shape(client.get(reverse("boards:watch", args=[site.board]) + "?ts=x"), 400, "bad_parameter")
    assert_shape(client.get(reverse("boards:watch", args=["nowhere"]) + "?timeout=0"), 404, "not_found")
    notify = reverse("boards:notify", args=[site.board])
    assert_shape(client.post(notify, "5", content_type="application/json"), 403, "forbidden")
    assert_shape(client.get(reverse("jobs:run_json", args=["nope"])), 404, "not_found")
    enqueue = reverse("jobs:enqueue", args=["countdown"])
    body = assert_shape(client.post(enqueue, {"params": {"steps": 0}}, content_type="application/json"), 400)
    assert body["error"] == "invalid_parameters" and "steps" in body["fields"]
    transfers = reverse("ledger:transfers")
    body = {"from": "alice-main", "to": "bob-main", "amount": 10**9}
    assert_shape(client.post(transfers, body, content_type="application/json"), 409, "insufficient_funds")
