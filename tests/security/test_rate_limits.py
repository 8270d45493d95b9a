"""Chat posts and ledger transfers are rate-limited per user: 429 with Retry-After, JSON or a page."""

from __future__ import annotations

import json

import pytest

from chat.models import Message
from ledger.models import Transfer

pytestmark = pytest.mark.django_db


def post_message(client, site, text: str, *, form: bool = False):
    url = f"/chat/{site.room.slug}/messages"
    if form:
        return client.post(url, {"text": text}, HTTP_ACCEPT="text/html")
    return client.post(url, json.dumps({"text": text}), content_type="application/json")


def assert_429(response) -> int:
    assert response.status_code == 429
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    return retry_after


def test_chat_posts_over_the_rate_get_429_with_retry_after(client, site, settings):
    settings.CHAT_POST_RATE, settings.CHAT_POST_RATE_WINDOW = 3, 60
    client.force_login(site.alice)
    assert [post_message(client, site, f"m{i}").status_code for i in range(3)] == [201, 201, 201]
    refused = post_message(client, site, "one too many")
    assert_429(refused)
    assert refused.json()["error"] == "rate_limited"
    assert "Too many messages" in refused.json()["message"]
    page = post_message(client, site, "from the form", form=True)  # a browser without JavaScript
    assert_429(page)
    assert page["Content-Type"].startswith("text/html")
    assert b"Too many messages" in page.content
    assert list(Message.objects.filter(room=site.room).values_list("text", flat=True)) == ["m0", "m1", "m2"]
    client.force_login(site.bob)  # the limit is per user
    assert post_message(client, site, "bob's first").status_code == 201


def test_chat_rate_window_slides_open_again(client, site, settings, rate_clock):
    settings.CHAT_POST_RATE, settings.CHAT_POST_RATE_WINDOW = 1, 1
    client.force_login(site.alice)
    assert post_message(client, site, "one").status_code == 201
    rate_clock.advance(0.9)
    assert post_message(client, site, "two").status_code == 429
    rate_clock.advance(0.2)  # "one" left the window
    assert post_message(client, site, "three").status_code == 201


def transfer(client, source: str, target: str, *, form: bool = False):
    data = {"from": source, "to": target, "amount": 1}
    if form:
        return client.post("/ledger/transfers", data, HTTP_ACCEPT="text/html")
    return client.post("/ledger/transfers", json.dumps(data), content_type="application/json")


def test_transfers_over_the_rate_get_429_with_retry_after(client, site, settings):
    settings.LEDGER_TRANSFER_RATE, settings.LEDGER_TRANSFER_RATE_WINDOW = 2, 60
    client.force_login(site.alice)
    before = Transfer.objects.count()
    assert [transfer(client, "alice-main", "bob-main").status_code for _ in range(2)] == [201, 201]
    refused = transfer(client, "alice-main", "bob-main")
    assert_429(refused)
    assert "Too many transfers" in refused.json()["message"]
    page = transfer(client, "alice-main", "bob-main", form=True)
    assert_429(page)
    assert b"Too many transfers" in page.content
    assert b"alice-main" in page.content  # the account page, with the form to try again
    assert Transfer.objects.count() == before + 2
    client.force_login(site.bob)
    assert transfer(client, "bob-main", "alice-main").status_code == 201


def test_chat_posts_and_transfers_still_work_when_the_rate_limit_store_is_down(client, site, restartable_redis):
    """Posting (readers catch up from the database) and transfers (SQL only) do not need Redis: nor does their limit."""
    restartable_redis.stop()
    client.force_login(site.alice)
    assert post_message(client, site, "Redis is down").status_code == 201
    assert transfer(client, "alice-main", "bob-main").status_code == 201
