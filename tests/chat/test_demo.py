"""demo_load: creates the demo rooms and messages once (idempotent)."""

import pytest

from chat.models import Message, Room
from config.demo.chat import demo_load

pytestmark = pytest.mark.django_db


def test_demo_load_is_idempotent(admin_user_):
    assert "2 room(s) created" in demo_load(admin=admin_user_)
    messages = Message.objects.count()
    assert messages == 3
    assert "0 room(s) created" in demo_load(admin=admin_user_)
    assert Message.objects.count() == messages
    assert set(Room.objects.values_list("slug", flat=True)) >= {"lobby", "random"}
    assert list(Message.objects.filter(room__slug="lobby").values_list("seq", flat=True)) == [1, 2]
