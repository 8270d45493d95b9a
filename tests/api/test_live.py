"""The API's long-poll and stream operations over a live server: the lean views behind them, a token in front."""

from __future__ import annotations

import httpx

from boards.models import Board
from boards.services import board_notify
from chat.models import Room
from tests.api.conftest import bearer


def test_a_token_reads_a_private_board_through_the_watch_and_the_stream_operations(live_asgi, user, token, staff_token):
    Board.objects.create(name="private-build")
    board_notify(name="private-build", value={"percent": 7}, private=True)
    watch = f"{live_asgi}/api/boards/private-build/watch?ts=0&timeout=0"
    answer = httpx.get(watch, headers=bearer(staff_token), timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"] == {"percent": 7} and answer.json()["ts"] == 1
    refused = httpx.get(watch, headers=bearer(token), timeout=10)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert httpx.get(watch, timeout=10).json()["error"] == "login_required"
    url = f"{live_asgi}/api/boards/private-build/stream"
    with httpx.stream("GET", url, headers=bearer(staff_token), timeout=10) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = ""
        for chunk in stream.iter_text():
            text += chunk
            if 'data: {"percent": 7}' in text or '"percent":7' in text:
                break
    assert "id: 1" in text


def test_a_message_posted_with_a_token_reaches_the_api_long_poll(live_asgi, user, token):
    Room.objects.create(slug="live-api", title="Live")
    posted = httpx.post(
        f"{live_asgi}/api/chat/rooms/live-api/messages", json={"text": "hello poll"}, headers=bearer(token), timeout=10
    )
    assert posted.status_code == 201, posted.text
    polled = httpx.get(f"{live_asgi}/api/chat/rooms/live-api/poll?after=0&timeout=1", headers=bearer(token), timeout=10)
    assert [m["text"] for m in polled.json()["messages"]] == ["hello poll"]
    assert polled.json()["next_url"].endswith("after=1&timeout=1")
