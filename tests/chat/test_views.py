"""The HTTP API and pages: exact status codes, JSON bodies, CSRF, escaping, SSE and long-poll."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import reverse

from chat.models import Message, Room
from chat.services import message_post
from tests.chat.conftest import SSEReader, wait_for_waiters

pytestmark = pytest.mark.django_db

XSS = "<script>alert('x')</script>"


def url(name: str, room: Room) -> str:
    return reverse(f"chat:{name}", args=[room.slug])


# -- pages ---------------------------------------------------------------------------------------
def test_index_lists_rooms_with_escaped_titles(client, make_room):
    make_room(title=XSS)
    html = client.get("/chat/").content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert XSS not in html


def test_index_shows_the_create_form_only_to_users_allowed_to_create_rooms(client, user, staff_user):
    assert b'name="slug"' not in client.get("/chat/").content
    client.force_login(user)
    assert b'name="slug"' not in client.get("/chat/").content
    staff_user.user_permissions.add(Permission.objects.get(codename="add_room"))
    client.force_login(staff_user)
    assert b'name="slug"' in client.get("/chat/").content


def test_creating_a_room_needs_login_and_permission(client, user):
    response = client.post("/chat/", {"slug": "new-room", "title": "New"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(user)
    assert client.post("/chat/", {"slug": "new-room", "title": "New"}).status_code == 403
    assert not Room.objects.filter(slug="new-room").exists()
    user.user_permissions.add(Permission.objects.get(codename="add_room"))
    response = client.post("/chat/", {"slug": "new-room", "title": "New"})
    assert response.status_code == 302 and response["Location"] == "/chat/new-room/"
    assert Room.objects.get(slug="new-room").title == "New"


def test_creating_a_room_with_a_bad_or_taken_name_is_a_400_with_the_reason(admin_client, room):
    response = admin_client.post("/chat/", {"slug": "Not A Slug!", "title": "x"})
    assert response.status_code == 400
    assert "is invalid" in response.content.decode()
    response = admin_client.post("/chat/", {"slug": room.slug, "title": "x"})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_creating_a_room_without_csrf_token_is_rejected(user):
    user.user_permissions.add(Permission.objects.get(codename="add_room"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/chat/", {"slug": "csrf-room"}).status_code == 403
    assert not Room.objects.filter(slug="csrf-room").exists()


def test_room_page_renders_last_messages_escaped_with_author_and_time(client, room, user, settings):
    settings.CHAT_ROOM_HISTORY = 3
    for i in range(5):
        message_post(room=room, author=user if i % 2 else None, text=f"m{i} {XSS}")
    html = client.get(url("room", room)).content.decode()
    assert XSS not in html
    assert "m4 &lt;script&gt;" in html
    assert "m1 " not in html  # only the last 3 are rendered
    assert html.count('class="chat-message"') == 3
    assert 'data-last-seq="5"' in html
    assert "alice" in html and "system" in html
    assert "<time datetime=" in html
    assert "chat/room.js" in html


def test_room_page_of_unknown_room_is_404(client):
    assert client.get("/chat/no-such-room/").status_code == 404


def test_room_page_offers_the_post_box_to_signed_in_users_only(client, room, user):
    assert b'id="chat-form"' not in client.get(url("room", room)).content
    client.force_login(user)
    assert b'id="chat-form"' in client.get(url("room", room)).content


# -- posting -------------------------------------------------------------------------------------
def test_post_json_returns_201_with_the_stored_message(client, room, user):
    client.force_login(user)
    response = client.post(url("messages", room), {"text": "  hello  "}, content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert body["seq"] == 1 and body["text"] == "hello" and body["author"] == "alice" and body["room"] == room.slug
    assert Message.objects.get(room=room, seq=1).text == "hello"


def test_post_form_encoded_returns_201(client, room, user):
    client.force_login(user)
    response = client.post(url("messages", room), {"text": "from a form"})
    assert response.status_code == 201
    assert response.json()["seq"] == 1


def test_post_from_the_html_form_without_javascript_redirects_back_to_the_room(client, room, user):
    client.force_login(user)
    response = client.post(url("messages", room), {"text": "no js"}, headers={"Accept": "text/html"})
    assert response.status_code == 302 and response["Location"] == url("room", room)
    assert Message.objects.filter(room=room, text="no js").exists()


def test_anonymous_post_is_401_json_or_a_login_redirect_for_forms(client, room):
    response = client.post(url("messages", room), {"text": "hi"}, content_type="application/json")
    assert response.status_code == 401
    assert "Sign in" in response.json()["message"]
    response = client.post(url("messages", room), {"text": "hi"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"text": ""}, "empty"),
        ({"text": "   \n\t "}, "empty"),
        ({"text": "x" * 4001}, "limit is 4000"),
        ({"text": 42}, "must be a string"),
        ({"nope": "x"}, '"text" field'),
        (["text"], '"text" field'),
    ],
)
def test_bad_text_is_a_400_with_a_message(client, room, user, body, fragment):
    client.force_login(user)
    response = client.post(url("messages", room), body, content_type="application/json")
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert not Message.objects.exists()


def test_text_of_exactly_4000_characters_is_accepted(client, room, user):
    client.force_login(user)
    response = client.post(url("messages", room), {"text": "y" * 4000}, content_type="application/json")
    assert response.status_code == 201


def test_malformed_json_is_a_400(client, room, user):
    client.force_login(user)
    response = client.post(url("messages", room), b"{not json", content_type="application/json")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]


def test_post_without_csrf_is_rejected_and_with_the_header_accepted(room, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(url("messages", room), {"text": "forged"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]
    response = client.post(url("messages", room), {"text": "forged form"})
    assert response.status_code == 403
    assert not Message.objects.exists()
    client.get(url("room", room))  # sets the CSRF cookie, like the page does
    token = client.cookies["csrftoken"].value
    response = client.post(
        url("messages", room), {"text": "real"}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 201
    response = client.post(url("messages", room), {"text": "real form", "csrfmiddlewaretoken": token})
    assert response.status_code == 201


def test_cross_site_post_is_rejected_even_with_a_token(room, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(url("room", room))
    token = client.cookies["csrftoken"].value
    response = client.post(
        url("messages", room),
        {"text": "from elsewhere"},
        content_type="application/json",
        headers={"X-CSRFToken": token, "Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "Origin" in response.json()["message"]
    assert not Message.objects.exists()


def test_anonymous_post_without_csrf_token_is_still_401(room):
    client = Client(enforce_csrf_checks=True)
    response = client.post(url("messages", room), {"text": "x"}, content_type="application/json")
    assert response.status_code == 401


def test_post_to_unknown_room_is_404_json(client, user):
    client.force_login(user)
    response = client.post("/chat/no-such-room/messages", {"text": "x"}, content_type="application/json")
    assert response.status_code == 404
    assert "No room" in response.json()["message"]


def test_other_methods_are_405(client, room, user):
    client.force_login(user)
    assert client.put(url("messages", room), {"text": "x"}, content_type="application/json").status_code == 405
    assert client.delete(url("room", room)).status_code == 405


# -- history -------------------------------------------------------------------------------------
def test_history_is_oldest_first_after_seq_with_limit_and_next_url(client, room):
    for i in range(7):
        message_post(room=room, author=None, text=f"m{i}")
    response = client.get(url("messages", room), {"after": 2, "limit": 3})
    assert response.status_code == 200
    body = response.json()
    assert [m["seq"] for m in body["messages"]] == [3, 4, 5]
    assert body["messages"][0]["text"] == "m2"
    assert body["next_url"] == f"{url('messages', room)}?after=5&limit=3"
    body = client.get(body["next_url"]).json()
    assert [m["seq"] for m in body["messages"]] == [6, 7]
    assert client.get(url("messages", room)).json()["messages"][0]["seq"] == 1


def test_history_limit_is_capped(client, room, settings):
    settings.CHAT_MAX_PAGE = 2
    for i in range(4):
        message_post(room=room, author=None, text=f"m{i}")
    assert len(client.get(url("messages", room), {"limit": 100}).json()["messages"]) == 2


def test_history_json_escapes_nothing_away_and_keeps_the_text(client, room):
    message_post(room=room, author=None, text=XSS)
    response = client.get(url("messages", room))
    assert response["Content-Type"] == "application/json"
    assert response.json()["messages"][0]["text"] == XSS


@pytest.mark.parametrize("name", ["messages", "poll", "stream"])
@pytest.mark.parametrize("param", ["after", "limit"])
@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "٣", "99999999999999999999999", "9" * 5000, " 1"])
def test_after_or_limit_not_a_non_negative_integer_is_400(client, room, name, param, value):
    if name != "messages" and param == "limit":
        return  # poll and stream take no limit
    response = client.get(url(name, room), {param: value})
    assert response.status_code == 400
    assert "non-negative integer" in response.json()["message"]


@pytest.mark.parametrize("name", ["messages", "poll", "stream"])
def test_unknown_room_is_404_on_every_endpoint(client, name):
    response = client.get(reverse(f"chat:{name}", args=["no-such-room"]))
    assert response.status_code == 404
    assert "No room" in response.json()["message"]


@pytest.mark.parametrize("value", ["soon", "-1", "61", "nan"])
def test_poll_timeout_out_of_range_is_400(client, room, value):
    response = client.get(url("poll", room), {"timeout": value})
    assert response.status_code == 400
    assert "timeout" in response.json()["message"]


def test_bad_last_event_id_is_400(client, room):
    response = client.get(url("stream", room), headers={"Last-Event-ID": "x"})
    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["message"]


# -- long-poll and SSE against a real ASGI server -----------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_poll_answers_at_once_when_messages_exist(live_asgi, room):
    for i in range(3):
        message_post(room=room, author=None, text=f"m{i}")
    response = httpx.get(f"{live_asgi}{url('poll', room)}", params={"after": 1, "timeout": 5})
    assert response.status_code == 200
    body = response.json()
    assert [m["seq"] for m in body["messages"]] == [2, 3]
    assert body["next_url"] == f"{url('poll', room)}?after=3&timeout=5"


@pytest.mark.django_db(transaction=True)
def test_poll_waits_for_the_next_message(live_asgi, room):
    def post_later() -> None:
        wait_for_waiters(1)  # the poll is subscribed and found nothing: it waits
        message_post(room=room, author=None, text="late")
        connection.close()

    thread = threading.Thread(target=post_later)
    started = time.monotonic()
    thread.start()
    response = httpx.get(f"{live_asgi}{url('poll', room)}", params={"after": 0, "timeout": 10}, timeout=15)
    thread.join()
    assert response.status_code == 200
    assert [m["text"] for m in response.json()["messages"]] == ["late"]
    assert time.monotonic() - started < 9  # woken by the message, well before the 10 s timeout


@pytest.mark.django_db(transaction=True)
def test_poll_returns_an_empty_list_at_the_timeout(live_asgi, room):
    started = time.monotonic()
    response = httpx.get(f"{live_asgi}{url('poll', room)}", params={"after": 0, "timeout": 0.5})
    assert response.status_code == 200
    assert response.json() == {"messages": [], "next_url": f"{url('poll', room)}?after=0&timeout=0.5"}
    assert 0.45 < time.monotonic() - started < 8


@pytest.mark.django_db(transaction=True)
def test_sse_honours_last_event_id_over_after(live_asgi, room):
    for i in range(5):
        message_post(room=room, author=None, text=f"m{i}")
    reader = SSEReader(f"{live_asgi}{url('stream', room)}", after=1)
    with httpx.stream("GET", f"{reader.url}?after=1", headers={"Last-Event-ID": "3"}, timeout=10) as response:
        assert response.headers["cache-control"] == "no-cache"
        lines = []
        for line in response.iter_lines():
            lines.append(line)
            if line == "id: 5":
                break
    ids = [line for line in lines if line.startswith("id: ")]
    assert ids == ["id: 4", "id: 5"]
    assert lines[0] == "retry: 1000"


@pytest.mark.django_db(transaction=True)
def test_sse_delivers_live_messages_after_history(live_asgi, room):
    message_post(room=room, author=None, text="old")
    reader = SSEReader(f"{live_asgi}{url('stream', room)}")

    def post_later() -> None:
        wait_for_waiters(1)
        for i in range(3):
            message_post(room=room, author=None, text=f"new{i}")
        connection.close()

    thread = threading.Thread(target=post_later)
    thread.start()
    reader.read(until_seq=4, timeout=10)
    thread.join()
    assert [e["text"] for _, e in reader.events] == ["old", "new0", "new1", "new2"]


@pytest.mark.django_db(transaction=True)
def test_sse_sends_heartbeat_comments(live_asgi, room, settings):
    settings.CHAT_HEARTBEAT = 0.3
    comments = []
    with httpx.stream("GET", f"{live_asgi}{url('stream', room)}", timeout=10) as response:
        for line in response.iter_lines():
            if line.startswith(":"):
                comments.append(line)
            if comments.count(": heartbeat") == 2:
                break
    assert comments[0] == ": connected"


@pytest.mark.django_db(transaction=True)
def test_sse_escapes_nothing_but_stays_one_data_line_per_event(live_asgi, room):
    message_post(room=room, author=None, text="line one\nline two\r\ndata: fake")
    reader = SSEReader(f"{live_asgi}{url('stream', room)}")
    reader.read(until_seq=1, timeout=10)
    assert reader.events[0][1]["text"] == "line one\nline two\r\ndata: fake"


def test_json_error_bodies_are_json(client, room):
    response = client.get(url("messages", room), {"after": "x"})
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["message"]


@pytest.mark.django_db(transaction=True)
def test_closed_sse_connections_leave_no_waiter_behind(live_asgi, room):
    from switchboard.hub import _hubs

    def waiters() -> int:
        return sum(hub.waiter_count() for hub in list(_hubs.values()))

    streams = [httpx.stream("GET", f"{live_asgi}{url('stream', room)}", timeout=10) for _ in range(3)]
    lines = []  # keep the line iterators: dropping one closes its connection
    for stream in streams:
        lines.append(stream.__enter__().iter_lines())
        assert next(lines[-1]).startswith("retry:")  # the stream is open
    deadline = time.monotonic() + 5
    while waiters() < 3:
        assert time.monotonic() < deadline, "the streams never subscribed"
        time.sleep(0.02)
    for stream in streams:
        stream.__exit__(None, None, None)
    deadline = time.monotonic() + 5
    while waiters():
        assert time.monotonic() < deadline, f"{waiters()} waiters left after the clients went away"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
# WhiteNoise serves files with a synchronous iterator; Django warns about that under ASGI.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_the_room_script_and_styles_are_served(live_asgi):
    script = httpx.get(f"{live_asgi}/static/chat/room.js")
    assert script.status_code == 200
    assert "EventSource" in script.text and "textContent" in script.text and "X-CSRFToken" in script.text
    assert httpx.get(f"{live_asgi}/static/chat/chat.css").status_code == 200
