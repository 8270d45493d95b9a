"""Model invariants: one seq per room, positive, and deletion rules."""

import pytest
from django.db import IntegrityError, transaction

from chat.models import Message, Room

pytestmark = pytest.mark.django_db


def test_seq_is_unique_within_a_room_but_not_across_rooms(make_room):
    first, second = make_room(), make_room()
    Message.objects.create(room=first, seq=1, text="a")
    Message.objects.create(room=second, seq=1, text="b")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(room=first, seq=1, text="c")


def test_seq_must_be_positive(room):
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(room=room, seq=0, text="zero")


def test_deleting_the_author_keeps_the_message_as_a_system_message(room, user):
    message = Message.objects.create(room=room, seq=1, text="a", author=user)
    user.delete()
    message.refresh_from_db()
    assert message.author is None


def test_deleting_a_room_deletes_its_messages(room):
    Message.objects.create(room=room, seq=1, text="a")
    room.delete()
    assert not Message.objects.exists()
    assert not Room.objects.exists()


def test_str(room):
    message = Message.objects.create(room=room, seq=7, text="a")
    assert str(message) == f"{room.slug}#7"
    assert str(room) == room.title
