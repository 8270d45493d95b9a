"""The wire format: channel names, the JSON envelope, SSE frames, decoding once per process."""

import json

import pytest

from chat.services import message_post
from chat.wire import envelope_encode, envelope_from_bytes, room_channel


def test_room_channel_uses_the_prefix_setting(settings):
    assert room_channel("lobby") == "chat:room:lobby"
    settings.CHAT_CHANNEL_PREFIX = "site2:chat:"
    assert room_channel("lobby") == "site2:chat:lobby"


@pytest.mark.django_db
def test_envelope_has_room_seq_author_text_created(room, user):
    message = message_post(room=room, author=user, text="héllo <b>")
    envelope = envelope_encode(message)
    assert envelope.seq == 1
    body = json.loads(envelope.data)
    assert body == {
        "room": room.slug,
        "seq": 1,
        "author": "alice",
        "text": "héllo <b>",
        "created": message.created.isoformat(),
    }
    assert envelope.sse == b"id: 1\ndata: " + envelope.data + b"\n\n"
    assert envelope.sse is envelope.sse  # built once


@pytest.mark.django_db
def test_system_messages_have_a_null_author(room):
    assert envelope_encode(message_post(room=room, author=None, text="x")).as_dict()["author"] is None


def test_decoding_is_cached_per_payload():
    data = b'{"room":"r","seq":3,"author":null,"text":"t","created":"2026-01-01T00:00:00+00:00"}'
    first = envelope_from_bytes(data)
    assert first.seq == 3
    assert envelope_from_bytes(data) is first


@pytest.mark.parametrize(
    "data", [b"not json", b"[]", b"{}", b'{"seq": "3"}', b'{"seq": 0}', b'{"seq": true}', b"\xff\xfe"]
)
def test_foreign_payloads_are_ignored(data):
    assert envelope_from_bytes(data) is None
