"""Rows 1 and 2 of issue 13: deep JSON, lone surrogates and invalid UTF-8 get 400 in the app's JSON error shape."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from boards.selectors import board_state
from chat.models import Message
from jobs.models import JobRun
from ledger.models import Transfer

pytestmark = pytest.mark.django_db

DEEP = ("[" * 50_000 + "]" * 50_000).encode()
SURROGATE = '"\\ud800"'  # valid JSON text, but the string it denotes cannot be encoded as UTF-8


def endpoints(site) -> dict[str, tuple[str, str]]:
    """A JSON endpoint -> (its URL, a body template where {} is replaced by the hostile value)."""
    return {
        "chat": (reverse("chat:messages", args=[site.room.slug]), '{"text": %s}'),
        "ledger": (reverse("ledger:transfers"), '{"from": "alice-main", "to": "bob-main", "amount": 5, "x": %s}'),
        "jobs": (reverse("jobs:enqueue", args=["countdown"]), '{"params": {"steps": 1}, "x": %s}'),
        "boards": (reverse("boards:notify", args=[site.board]), '{"value": %s}'),
    }


def who(site, name):
    return site.staff if name == "boards" else site.alice


def nothing_changed(site, before):
    assert (Message.objects.count(), Transfer.objects.count(), board_state(name=site.board).version) == before


def snapshot(site):
    return Message.objects.count(), Transfer.objects.count(), board_state(name=site.board).version


@pytest.mark.parametrize("name", ["chat", "ledger", "jobs", "boards"])
def test_a_body_nested_50000_deep_gets_400_json(client, site, name):
    url, _ = endpoints(site)[name]
    client.force_login(who(site, name))
    before = snapshot(site)
    response = client.post(url, DEEP, content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.json()
    nothing_changed(site, before)


@pytest.mark.parametrize("name", ["chat", "ledger", "jobs", "boards"])
def test_nesting_over_the_depth_setting_gets_400(client, site, settings, name):
    settings.SWITCHBOARD_JSON_MAX_DEPTH = 5
    url, template = endpoints(site)[name]
    client.force_login(who(site, name))
    response = client.post(url, template % ("[" * 6 + "]" * 6), content_type="application/json")
    assert response.status_code == 400
    assert "deeper" in json.dumps(response.json())


@pytest.mark.parametrize("name", ["chat", "ledger", "jobs", "boards"])
def test_a_lone_surrogate_anywhere_in_the_body_gets_400(client, site, name):
    url, template = endpoints(site)[name]
    client.force_login(who(site, name))
    before = snapshot(site)
    response = client.post(url, template % SURROGATE, content_type="application/json")
    assert response.status_code == 400
    assert "surrogate" in json.dumps(response.json())
    nothing_changed(site, before)


@pytest.mark.parametrize("name", ["chat", "ledger", "jobs", "boards"])
def test_invalid_utf8_and_encoded_surrogates_get_400(client, site, name):
    url, template = endpoints(site)[name]
    client.force_login(who(site, name))
    for raw in (b'"\xff\xfe"', b'"\xed\xa0\x80"'):  # not UTF-8; a surrogate encoded as if UTF-8
        body = (template % "0").encode().replace(b"0", raw, 1) if name != "chat" else b'{"text": ' + raw + b"}"
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 400, (raw, response.content)


def test_surrogates_in_each_json_field_get_400(client, site):
    client.force_login(site.alice)
    url = reverse("chat:messages", args=[site.room.slug])
    assert client.post(url, '{"text": "hi \\udfff"}', content_type="application/json").status_code == 400
    url = reverse("ledger:transfers")
    body = '{"from": "alice-main", "to": "bob-main", "amount": 5, "idempotency_key": "k\\ud800"}'
    assert client.post(url, body, content_type="application/json").status_code == 400
    assert not Transfer.objects.filter(source=site.alice_account, target=site.bob_account).exists()


def test_the_fail_job_with_a_surrogate_message_is_refused_and_never_reaches_a_worker(client, site):
    client.force_login(site.alice)
    runs = JobRun.objects.count()
    response = client.post(
        reverse("jobs:enqueue", args=["fail"]), '{"params": {"message": "\\ud800"}}', content_type="application/json"
    )
    assert response.status_code == 400
    from jobs.services import queue_get

    assert queue_get(name="default").count == 0
    assert JobRun.objects.count() == runs


def test_the_job_service_refuses_a_surrogate_parameter_from_any_caller(site):
    from jobs.errors import InvalidParameters
    from jobs.services import job_enqueue

    with pytest.raises(InvalidParameters):
        job_enqueue(name="fail", params={"message": "bad \ud800"}, owner=site.alice)


def test_the_board_service_refuses_a_surrogate_value_with_a_board_error(site):
    from boards.services import BoardError, board_notify

    with pytest.raises(BoardError):
        board_notify(name=site.board, value={"message": "\udc00"})


def test_nan_and_infinity_are_not_json(client, site):
    client.force_login(site.alice)
    url = reverse("ledger:transfers")
    response = client.post(
        url, '{"from": "alice-main", "to": "bob-main", "amount": NaN}', content_type="application/json"
    )
    assert response.status_code == 400


def test_form_posts_never_store_a_surrogate(client, site):
    """Django decodes form fields with replacement characters, so a surrogate's bytes arrive as U+FFFD."""
    client.force_login(site.alice)
    url = reverse("chat:messages", args=[site.room.slug])
    response = client.post(
        url, b"text=a%ED%A0%80b", content_type="application/x-www-form-urlencoded", HTTP_ACCEPT="text/html"
    )
    assert response.status_code < 500
    for text in Message.objects.values_list("text", flat=True):
        text.encode("utf-8")


def test_board_notify_command_refuses_deep_json_with_a_command_error(site):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="deeper"):
        call_command("board_notify", site.board, "[" * 50_000 + "]" * 50_000)
