"""Writes: sequence numbers, text rules, publish only after commit, publish failures, rooms."""

from __future__ import annotations

import json
import threading

import pytest
import redis
from django.db import transaction

from chat.models import Message, Room
from chat.services import ChatError, message_post, message_publish, room_create, text_clean
from chat.wire import room_channel


def subscribed(redis_client: redis.Redis, channel: str):
    pubsub = redis_client.pubsub()
    pubsub.subscribe(channel)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    return pubsub


@pytest.mark.django_db
def test_seq_counts_one_two_three_per_room(make_room):
    first, second = make_room(), make_room()
    assert [message_post(room=first, author=None, text=f"m{i}").seq for i in range(3)] == [1, 2, 3]
    assert message_post(room=second, author=None, text="x").seq == 1
    first.refresh_from_db()
    assert first.last_seq == 3


@pytest.mark.django_db
def test_text_is_stored_stripped(room):
    assert message_post(room=room, author=None, text="  hi \n").text == "hi"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("", "empty"), ("  \n ", "empty"), ("x" * 4001, "4001 characters"), (None, "string"), ("a\x00b", "NUL")],
)
def test_text_outside_the_rules_is_refused_with_a_reason(text, fragment):
    with pytest.raises(ChatError, match=fragment):
        text_clean(text)


def test_text_limit_follows_the_setting(settings):
    settings.CHAT_MAX_TEXT = 5
    assert text_clean("12345") == "12345"
    with pytest.raises(ChatError, match="limit is 5"):
        text_clean("123456")


@pytest.mark.django_db
def test_refused_text_stores_nothing_and_uses_no_seq(room):
    with pytest.raises(ChatError):
        message_post(room=room, author=None, text=" ")
    assert message_post(room=room, author=None, text="ok").seq == 1
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_publish_happens_after_commit_never_before(room, redis_client):
    pubsub = subscribed(redis_client, room_channel(room.slug))
    with transaction.atomic():
        message = message_post(room=room, author=None, text="later")
        assert pubsub.get_message(timeout=0.3) is None  # not yet: the transaction is open
    heard = pubsub.get_message(timeout=2)
    assert heard["type"] == "message"
    body = json.loads(heard["data"])
    assert body["seq"] == message.seq == 1 and body["text"] == "later" and body["room"] == room.slug
    pubsub.close()


@pytest.mark.django_db(transaction=True)
def test_rolled_back_post_is_never_published_and_its_seq_is_reused(room, redis_client):
    pubsub = subscribed(redis_client, room_channel(room.slug))
    with pytest.raises(RuntimeError), transaction.atomic():
        message_post(room=room, author=None, text="doomed")
        raise RuntimeError("roll back")
    assert pubsub.get_message(timeout=0.3) is None
    assert message_post(room=room, author=None, text="kept").seq == 1  # gap-free
    pubsub.close()


@pytest.mark.django_db(transaction=True)
def test_publish_false_stores_without_publishing(room, redis_client):
    pubsub = subscribed(redis_client, room_channel(room.slug))
    message_post(room=room, author=None, text="quiet", publish=False)
    assert pubsub.get_message(timeout=0.3) is None
    assert Message.objects.get(room=room).seq == 1
    pubsub.close()


@pytest.mark.django_db(transaction=True)
def test_post_succeeds_when_redis_is_down(room, restartable_redis, caplog):
    restartable_redis.stop()
    message = message_post(room=room, author=None, text="stored anyway")
    assert Message.objects.get(pk=message.pk).seq == 1
    assert "publish on" in caplog.text and "failed" in caplog.text


def test_message_publish_returns_the_receiver_count(redis_client):
    channel = f"chat-test-{threading.get_ident()}"
    pubsub = subscribed(redis_client, channel)
    assert message_publish(channel=channel, data=b"{}") == 1
    pubsub.close()


@pytest.mark.django_db(transaction=True)
def test_threads_posting_concurrently_get_distinct_gap_free_seqs(room):
    from django.db import connection

    errors: list[BaseException] = []

    def post(n: int) -> None:
        try:
            for i in range(20):
                message_post(room=room, author=None, text=f"t{n}-{i}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert list(Message.objects.filter(room=room).values_list("seq", flat=True)) == list(range(1, 81))


@pytest.mark.django_db
def test_room_create_validates_the_slug_and_refuses_duplicates():
    room = room_create(slug="general", title="  ")
    assert room.title == "general"
    with pytest.raises(ChatError, match="already exists"):
        room_create(slug="general")
    with pytest.raises(ChatError, match="invalid"):
        room_create(slug="Bad Slug")
    with pytest.raises(ChatError, match="too long"):
        room_create(slug="long", title="t" * 201)
    assert Room.objects.count() == 1


@pytest.mark.django_db
def test_posting_to_a_deleted_room_is_refused(room):
    Room.objects.filter(pk=room.pk).delete()
    with pytest.raises(ChatError, match="no longer exists"):
        message_post(room=room, author=None, text="x")
