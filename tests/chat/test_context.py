"""Context providers: what each page gets, in order, with no key written twice."""

import pytest
from django.test import RequestFactory

from chat.context import index_providers, post_form, recent_messages, room_header, room_providers
from chat.services import message_post
from switchboard.providers import build_context, site_providers

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_for(rf: RequestFactory):
    from django.contrib.auth.models import AnonymousUser

    def make(user=None):
        request = rf.get("/chat/")
        request.user = user or AnonymousUser()
        request.session = {}
        request._messages = []
        return request

    return make


def test_room_page_providers_do_not_collide_with_each_other_or_the_site(request_for, room):
    context = build_context(request_for(), [*site_providers(), *room_providers()], room=room)
    assert {"room", "urls", "chat_messages", "last_seq", "can_post", "max_text", "nav_items"} <= set(context)


def test_index_page_providers_do_not_collide(request_for, room):
    context = build_context(request_for(), [*site_providers(), *index_providers()])
    assert room in context["rooms"] and context["can_create_room"] is False


def test_recent_messages_gives_the_resume_point(request_for, room, settings):
    settings.CHAT_ROOM_HISTORY = 2
    assert recent_messages(request_for(), room=room) == {"chat_messages": [], "last_seq": 0}
    for i in range(3):
        message_post(room=room, author=None, text=f"m{i}")
    context = recent_messages(request_for(), room=room)
    assert [m.seq for m in context["chat_messages"]] == [2, 3] and context["last_seq"] == 3


def test_room_header_urls(request_for, room):
    urls = room_header(request_for(), room=room)["urls"]
    assert urls["stream"] == f"/chat/{room.slug}/stream" and urls["messages"] == f"/chat/{room.slug}/messages"


def test_post_form_is_for_signed_in_users(request_for, user):
    assert post_form(request_for())["can_post"] is False
    assert post_form(request_for(user))["can_post"] is True


def test_the_room_page_list_is_a_setting(request_for, room, settings):
    settings.CHAT_ROOM_PROVIDERS = ["chat.context.room_header"]
    assert room_providers() == [room_header]
