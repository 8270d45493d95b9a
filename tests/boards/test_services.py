"""board_notify and friends: atomic store + publish, strictly increasing versions, validation."""

from __future__ import annotations

import threading

import pytest
import redis

from boards.models import Board
from boards.services import (
    BoardError,
    ValueTooLarge,
    board_channel,
    board_create,
    board_delete,
    board_key,
    board_notify,
    known_key,
)
from switchboard.connections import redis_sync


@pytest.mark.django_db
def test_notify_stores_value_and_version_and_creates_the_record(board_name):
    assert board_notify(name=board_name, value={"percent": 40, "message": "copying"}) == 1
    assert board_notify(name=board_name, value="done") == 2
    stored = redis_sync().hgetall(board_key(board_name))
    assert stored == {b"version": b"2", b"value": b'"done"'}
    assert Board.objects.filter(name=board_name).count() == 1


@pytest.mark.django_db
def test_later_notifies_make_no_database_query(board_name, django_assert_num_queries):
    board_notify(name=board_name, value=1)
    with django_assert_num_queries(0):
        assert board_notify(name=board_name, value=2) == 2


@pytest.mark.django_db
def test_notify_publishes_version_and_value_atomically_with_the_store(board_name, redis_client):
    pubsub = redis_client.pubsub()
    pubsub.subscribe(board_channel(board_name))
    pubsub.get_message(timeout=2)  # the subscribe confirmation
    board_notify(name=board_name, value={"a": [1, 2]})
    message = pubsub.get_message(timeout=2)
    assert message["data"] == b'1\n{"a":[1,2]}'
    pubsub.close()


@pytest.mark.django_db(transaction=True)
def test_versions_strictly_increase_under_concurrent_notifiers(board_name):
    board_notify(name=board_name, value=0)
    versions: list[int] = []
    lock = threading.Lock()

    def notifier(n: int) -> None:
        for i in range(50):
            version = board_notify(name=board_name, value={"n": n, "i": i})
            with lock:
                versions.append(version)

    threads = [threading.Thread(target=notifier, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(versions) == list(range(2, 202))  # every version once: none lost, none repeated


def test_notify_refuses_values_that_are_not_json(board_name):
    with pytest.raises(BoardError, match="must be JSON"):
        board_notify(name=board_name, value={1, 2})
    with pytest.raises(BoardError, match="must be JSON"):
        board_notify(name=board_name, value=float("nan"))


def test_notify_refuses_values_over_the_limit(board_name, settings):
    settings.BOARDS_MAX_VALUE_BYTES = 10
    with pytest.raises(ValueTooLarge, match="BOARDS_MAX_VALUE_BYTES"):
        board_notify(name=board_name, value="x" * 20)
    assert not redis_sync().exists(board_key(board_name))


@pytest.mark.parametrize("name", ["", "Upper", "-dash-first", "has space", "a/b", "x" * 101, None])
def test_notify_refuses_bad_names(name):
    with pytest.raises(BoardError, match="invalid"):
        board_notify(name=name, value=1)


@pytest.mark.django_db
def test_create_makes_a_known_board_without_value(board_name):
    board = board_create(name=board_name, title="Backups")
    assert board.title == "Backups"
    assert redis_sync().sismember(known_key(), board_name)
    assert not redis_sync().exists(board_key(board_name))
    assert board_create(name=board_name, title="Other").title == "Backups"  # idempotent


@pytest.mark.django_db
def test_delete_drops_record_value_and_known_name(board_name):
    board_notify(name=board_name, value=1)
    board_delete(board=Board.objects.get(name=board_name))
    assert not Board.objects.filter(name=board_name).exists()
    assert not redis_sync().exists(board_key(board_name))
    assert not redis_sync().sismember(known_key(), board_name)
    assert board_notify(name=board_name, value=2) == 1  # a later notify starts the board afresh
    assert Board.objects.filter(name=board_name).exists()


@pytest.mark.django_db
def test_notify_raises_when_redis_is_down(board_name, settings):
    from switchboard.embedded_redis import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(redis.ConnectionError):
        board_notify(name=board_name, value=1)
