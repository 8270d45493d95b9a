"""Admin: rooms; messages searchable and filterable by room; seq read-only; no hand-made messages."""

import pytest

from chat.models import Message
from chat.services import message_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_http(client, admin_user_):
    client.force_login(admin_user_)
    return client


def test_room_changelist_shows_rooms(admin_http, room):
    response = admin_http.get("/admin/chat/room/")
    assert response.status_code == 200
    assert room.slug in response.content.decode()


def test_message_search_and_room_filter(admin_http, make_room, user):
    first, second = make_room(), make_room()
    message_post(room=first, author=user, text="needle in a haystack")
    message_post(room=first, author=None, text="plain hay")
    message_post(room=second, author=None, text="another needle")
    html = admin_http.get("/admin/chat/message/", {"q": "needle"}).content.decode()
    assert "needle in a haystack" in html and "another needle" in html and "plain hay" not in html
    html = admin_http.get("/admin/chat/message/", {"room__id__exact": first.pk}).content.decode()
    assert "needle in a haystack" in html and "plain hay" in html and "another needle" not in html
    html = admin_http.get("/admin/chat/message/", {"q": "alice"}).content.decode()
    assert "needle in a haystack" in html and "plain hay" not in html


def test_message_seq_is_read_only_and_adding_by_hand_is_off(admin_http, room):
    message = message_post(room=room, author=None, text="original")
    response = admin_http.get(f"/admin/chat/message/{message.pk}/change/")
    assert response.status_code == 200
    assert 'name="seq"' not in response.content.decode()
    admin_http.post(f"/admin/chat/message/{message.pk}/change/", {"text": "edited", "seq": 99})
    message.refresh_from_db()
    assert message.seq == 1 and message.text == "edited"
    assert admin_http.get("/admin/chat/message/add/").status_code == 403


def test_room_last_seq_is_read_only(admin_http, room):
    message_post(room=room, author=None, text="x")
    admin_http.post(f"/admin/chat/room/{room.pk}/change/", {"slug": room.slug, "title": "Renamed", "last_seq": 50})
    room.refresh_from_db()
    assert room.title == "Renamed" and room.last_seq == 1


def test_non_staff_cannot_open_the_chat_admin(client, user):
    client.force_login(user)
    assert client.get("/admin/chat/message/").status_code == 302
    assert not Message.objects.exists()
