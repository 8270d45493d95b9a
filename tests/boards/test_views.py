"""The HTTP API over a real ASGI server (uvicorn), the notify endpoint's permissions and CSRF, and the pages."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from boards.models import Board
from boards.selectors import board_get
from boards.services import board_notify


def later(seconds: float, fn, *args, **kwargs) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), fn(*args, **kwargs)))
    thread.start()
    return thread


# -- GET /boards/<name>/watch ------------------------------------------------------------------------
def test_watch_without_ts_answers_the_current_value_at_once(live_asgi, board):
    response = httpx.get(f"{live_asgi}/boards/{board}/watch", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "value": {"percent": 10, "message": "start"},
        "ts": 1,
        "next_update_url": f"/boards/{board}/watch?ts=1",
    }


def test_watch_behind_answers_at_once(live_asgi, board):
    board_notify(name=board, value="second")
    started = time.monotonic()
    response = httpx.get(f"{live_asgi}/boards/{board}/watch?ts=1", timeout=5)
    assert response.json() == {"value": "second", "ts": 2, "next_update_url": f"/boards/{board}/watch?ts=2"}
    assert time.monotonic() - started < 2


def test_watch_waits_for_the_next_notify(live_asgi, board):
    notifier = later(0.5, board_notify, name=board, value={"percent": 60, "message": "half"})
    started = time.monotonic()
    response = httpx.get(f"{live_asgi}/boards/{board}/watch?ts=1&timeout=10", timeout=15)
    elapsed = time.monotonic() - started
    notifier.join()
    assert response.json()["value"] == {"percent": 60, "message": "half"}
    assert response.json()["ts"] == 2
    assert 0.4 < elapsed < 3


def test_watch_follows_next_update_url_across_notifies(live_asgi, board):
    url = f"/boards/{board}/watch"
    seen = []
    for step in range(3):
        board_notify(name=board, value=step)
        data = httpx.get(f"{live_asgi}{url}", timeout=5).json()
        seen.append((data["ts"], data["value"]))
        url = data["next_update_url"]
    assert seen == [(2, 0), (3, 1), (4, 2)]


def test_watch_timeout_answers_the_unchanged_state(live_asgi, board):
    started = time.monotonic()
    response = httpx.get(f"{live_asgi}/boards/{board}/watch?ts=1&timeout=0.3", timeout=5)
    assert 0.25 < time.monotonic() - started < 3
    assert response.status_code == 200
    assert response.json()["ts"] == 1


def test_watch_timeout_is_capped(live_asgi, board, settings):
    settings.BOARDS_WATCH_TIMEOUT_MAX = 0.3
    started = time.monotonic()
    response = httpx.get(f"{live_asgi}/boards/{board}/watch?ts=1&timeout=3600", timeout=10)
    assert response.json()["ts"] == 1
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ts=abc", "ts must be an integer"),
        ("ts=1.5", "ts must be an integer"),
        ("ts=-1", "0 or more"),
        ("ts=1&timeout=soon", "timeout must be a number"),
        ("ts=1&timeout=-2", "timeout must be 0 or more"),
        ("ts=1&timeout=nan", "timeout must be 0 or more"),
    ],
)
def test_watch_bad_parameters_get_400_json(live_asgi, board, query, message):
    response = httpx.get(f"{live_asgi}/boards/{board}/watch?{query}", timeout=5)
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_watch_unknown_board_gets_404_json(live_asgi):
    for path in ("/boards/t-no-such-board/watch", "/boards/t-no-such-board/watch?ts=3", "/boards/Upper/watch"):
        response = httpx.get(f"{live_asgi}{path}", timeout=5)
        assert response.status_code == 404
        assert "No board named" in response.json()["message"]


def test_watch_and_stream_refuse_other_methods_with_json(client, board):
    for path in (f"/boards/{board}/watch", f"/boards/{board}/stream"):
        response = client.post(path)
        assert response.status_code == 405 and response["Allow"] == "GET"
        assert response.json()["error"] == "method_not_allowed" and "Use GET" in response.json()["message"]


def test_watch_answers_503_when_redis_is_down(client, board, settings):
    from switchboard.embedded_redis import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get(f"/boards/{board}/watch")
    assert response.status_code == 503
    assert "Redis" in response.json()["message"]


def test_watch_rejects_a_host_not_allowed(live_asgi, board):
    response = httpx.get(f"{live_asgi}/boards/{board}/watch", headers={"Host": "evil.example"}, timeout=5)
    assert response.status_code == 400


# -- GET /boards/<name>/stream (Server-Sent Events) ---------------------------------------------------
def read_events(lines, count: int) -> list[dict]:
    """Read ``count`` SSE events (or heartbeat comments) from an iterator of lines."""
    events, current = [], {}
    for line in lines:
        if line == "":
            if current:
                events.append(current)
                current = {}
                if len(events) == count:
                    return events
            continue
        if line.startswith(":"):
            current = {"comment": line[1:].strip()}
            continue
        key, _, value = line.partition(": ")
        current[key] = value
    return events


def test_stream_sends_current_value_then_each_new_one(live_asgi, board):
    with httpx.stream("GET", f"{live_asgi}/boards/{board}/stream", timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert read_events(lines, 2) == [
            {"retry": "2000"},
            {"id": "1", "data": '{"percent":10,"message":"start"}'},
        ]
        board_notify(name=board, value={"percent": 20, "message": "<b>more</b>"})
        assert read_events(lines, 1) == [{"id": "2", "data": '{"percent":20,"message":"<b>more</b>"}'}]


def test_stream_resumes_after_last_event_id(live_asgi, board):
    board_notify(name=board, value="two")
    board_notify(name=board, value="three")
    headers = {"Last-Event-ID": "2"}
    with httpx.stream("GET", f"{live_asgi}/boards/{board}/stream", headers=headers, timeout=10) as response:
        lines = response.iter_lines()
        assert read_events(lines, 2)[1] == {"id": "3", "data": '"three"'}  # only what came after 2
    headers = {"Last-Event-ID": "3"}
    with httpx.stream("GET", f"{live_asgi}/boards/{board}/stream", headers=headers, timeout=10) as response:
        lines = response.iter_lines()
        read_events(lines, 1)  # the retry hint; nothing else is due
        later(0.3, board_notify, name=board, value="four").join()
        assert read_events(lines, 1) == [{"id": "4", "data": '"four"'}]


def test_stream_sends_heartbeat_comments_when_quiet(live_asgi, board, settings):
    settings.BOARDS_SSE_HEARTBEAT = 0.2
    with httpx.stream("GET", f"{live_asgi}/boards/{board}/stream", timeout=10) as response:
        events = read_events(response.iter_lines(), 4)
    assert events[2:] == [{"comment": "heartbeat"}, {"comment": "heartbeat"}]


def test_stream_bad_last_event_id_gets_400_and_unknown_board_404(live_asgi, board):
    response = httpx.get(f"{live_asgi}/boards/{board}/stream", headers={"Last-Event-ID": "x"}, timeout=5)
    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["message"]
    response = httpx.get(f"{live_asgi}/boards/t-no-such-board/stream", timeout=5)
    assert response.status_code == 404


# -- POST /boards/<name>/notify -------------------------------------------------------------------
def post_json(client: Client, name: str, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(f"/boards/{name}/notify", data=data, content_type="application/json", **extra)


def test_notify_needs_login(client, board):
    response = post_json(client, board, {"percent": 90})
    assert response.status_code == 401
    assert response.json() == {"error": "login_required", "message": "Sign in first: this needs a signed-in user."}
    assert board_get(name=board)[0] == 1


def test_notify_needs_staff_or_the_permission(client, user, board):
    client.force_login(user)
    response = post_json(client, board, 5)
    assert response.status_code == 403
    assert "boards.notify_board" in response.json()["message"]
    user.user_permissions.add(Permission.objects.get(codename="notify_board"))
    client.force_login(type(user).objects.get(pk=user.pk))
    response = post_json(client, board, 5)
    assert response.status_code == 200
    assert response.json() == {"name": board, "ts": 2}


def test_staff_notify_stores_and_creates_an_unknown_board(client, staff_user, board_name):
    client.force_login(staff_user)
    response = post_json(client, board_name, {"percent": 40, "message": "copying"})
    assert response.json() == {"name": board_name, "ts": 1}
    assert board_get(name=board_name) == (1, {"percent": 40, "message": "copying"})
    assert Board.objects.filter(name=board_name).exists()


def test_notify_enforces_csrf_and_accepts_the_header(staff_user, board):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert post_json(client, board, 1).status_code == 403
    page = client.get(f"/boards/{board}/")
    token = page.context["csrf_token"] if page.context else client.cookies["csrftoken"].value
    response = post_json(client, board, 1, headers={"X-CSRFToken": str(token)})
    assert response.status_code == 200
    assert response.json()["ts"] == 2


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("not json", 400, "must be a JSON value"),
        ("", 400, "must be a JSON value"),
        ("NaN", 400, "must be a JSON value"),
        (b"\xff\xfe", 400, "must be a JSON value"),
    ],
)
def test_notify_bad_bodies_get_4xx_json(client, staff_user, board, body, status, message):
    client.force_login(staff_user)
    response = post_json(client, board, body)
    assert response.status_code == status
    assert message in response.json()["message"]


def test_notify_value_too_large_gets_413(client, staff_user, board, settings):
    settings.BOARDS_MAX_VALUE_BYTES = 100
    client.force_login(staff_user)
    response = post_json(client, board, json.dumps("x" * 200))
    assert response.status_code == 413
    assert "BOARDS_MAX_VALUE_BYTES" in response.json()["message"]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = post_json(client, board, json.dumps("x" * 5000))
    assert response.status_code == 413


def test_notify_bad_name_gets_400_and_get_gets_405(client, staff_user):
    client.force_login(staff_user)
    response = post_json(client, "Bad_Upper", 1)
    assert response.status_code == 400
    assert "invalid" in response.json()["message"]
    assert client.get("/boards/anything/notify").status_code == 405


# -- pages -------------------------------------------------------------------------------------------
def test_index_lists_boards_with_values(client, board, board_name):
    Board.objects.create(name="t-empty-" + board_name[2:], title="Empty one")
    html = client.get("/boards/").content.decode()
    assert f'href="/boards/{board}/"' in html
    assert "start" in html and "10%" in html
    assert "Empty one" in html and "No value yet." in html


def test_board_page_renders_value_progress_and_follow_url(client, board):
    html = client.get(f"/boards/{board}/").content.decode()
    assert 'class="progress"' in html and 'value="10.0"' in html
    assert f'data-next-url="/boards/{board}/watch?ts=1"' in html
    assert "boards/board.js" in html
    assert 'id="board-notify"' not in html  # anonymous: no form


def test_board_page_shows_the_form_to_staff(client, staff_user, board):
    client.force_login(staff_user)
    assert 'id="board-notify"' in client.get(f"/boards/{board}/").content.decode()


def test_board_page_escapes_user_text(client, board_name, db):
    Board.objects.create(name=board_name, title="<script>alert(1)</script>", description="<i>d</i>")
    board_notify(name=board_name, value={"percent": 5, "message": "<img src=x onerror=alert(1)>"})
    html = client.get(f"/boards/{board_name}/").content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "<i>d</i>" not in html
    board_notify(name=board_name, value="<b>raw</b>")
    html = client.get(f"/boards/{board_name}/").content.decode()
    assert "<b>raw</b>" not in html and "&lt;b&gt;raw&lt;/b&gt;" in html


def test_board_page_without_value_says_so_and_unknown_is_404(client, board_name, db):
    Board.objects.create(name=board_name)
    assert "No value yet." in client.get(f"/boards/{board_name}/").content.decode()
    assert client.get("/boards/t-never-seen-board/").status_code == 404


def test_board_script_is_served(live_asgi):
    response = httpx.get(f"{live_asgi}/static/boards/board.js", timeout=5)
    assert response.status_code == 200
    assert "next_update_url" in response.text
