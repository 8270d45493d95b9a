"""Real processes and real Redis: concurrent writers, SSE readers that start late, drop and resume,
a Redis SIGKILLed mid-run, a post held open then rolled back, a writer SIGKILLed inside its
transaction, and a publish that never happens. Every reader ends with seq 1..N, in order, each once,
matching the database.

The writer/reader tests run with a 30 s idle check (``live_only``) and bound every delivery's latency
far below it, so the database catch-up behind the idle check cannot stand in for live delivery.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection, transaction

from chat.models import Message
from chat.services import message_post
from tests.chat.conftest import SSEReader, wait_for_waiters
from tests.conftest import ROOT

WRITERS = 4
PER_WRITER = 250
TOTAL = WRITERS * PER_WRITER
LIVE_IDLE_CHECK = 30.0
# Every message reaches every reader within this many seconds of its creation (a third of the idle
# check, generous for a loaded 2-core machine; a reader served by idle checks alone waits up to 30 s).
MAX_LATENCY = LIVE_IDLE_CHECK / 3


@pytest.fixture
def live_only(chat_settings):
    """Idle checks far apart: what readers get in time, they got through the hub."""
    chat_settings.CHAT_IDLE_CHECK = LIVE_IDLE_CHECK
    return chat_settings


def assert_live(readers: list[SSEReader]) -> None:
    for reader in readers:
        slowest = max(reader.latencies())
        assert slowest < MAX_LATENCY, f"a message took {slowest:.1f} s to arrive: live delivery did not work"


def start_writers(env: dict[str, str], slug: str, *, pause: float = 0.0) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "tests.chat.writer", slug, str(w), str(PER_WRITER), str(pause)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WRITERS)
    ]


def wait_writers(writers: list[subprocess.Popen]) -> None:
    for proc in writers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "done" in out


def start_readers(base_url: str, slug: str, *, drop_after: int) -> tuple[list[SSEReader], list[threading.Thread], list]:
    """Three readers starting at random moments; the first drops after ``drop_after`` events and resumes."""
    readers = [SSEReader(f"{base_url}/chat/{slug}/stream") for _ in range(3)]
    errors: list[BaseException] = []
    rng = random.Random()

    def run(reader: SSEReader, delay: float, drop: int | None) -> None:
        time.sleep(delay)
        try:
            reader.read(until_seq=TOTAL, drop_after=drop, timeout=100)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(reader, rng.uniform(0.0, 1.5), drop_after if i == 0 else None), daemon=True)
        for i, reader in enumerate(readers)
    ]
    for thread in threads:
        thread.start()
    return readers, threads, errors


def assert_complete(room, readers: list[SSEReader]) -> None:
    stored = list(Message.objects.filter(room=room).order_by("seq").values_list("seq", "text"))
    assert [seq for seq, _ in stored] == list(range(1, TOTAL + 1))
    texts = dict(stored)
    # Each writer's messages are stored in the order it posted them.
    for w in range(WRITERS):
        mine = [int(text.split("-")[1]) for _, text in stored if text.startswith(f"w{w}-")]
        assert mine == list(range(PER_WRITER))
    for reader in readers:
        assert reader.seqs == list(range(1, TOTAL + 1))
        assert all(envelope["text"] == texts[seq] for seq, envelope in reader.events)
        assert all(envelope["room"] == room.slug for _, envelope in reader.events)
    room.refresh_from_db()
    assert room.last_seq == TOTAL


def join(threads: list[threading.Thread], errors: list) -> None:
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "an SSE reader did not finish"
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_late_readers_get_every_message_once_in_order(live_only, live_asgi, child_env, room):
    writers = start_writers(child_env, room.slug)
    readers, threads, errors = start_readers(live_asgi, room.slug, drop_after=random.randint(100, 400))
    wait_writers(writers)
    join(threads, errors)
    assert readers[0].connections == 2  # it dropped once and resumed with Last-Event-ID
    assert_complete(room, readers)
    assert_live(readers)


@pytest.mark.django_db(transaction=True)
def test_redis_killed_mid_run_loses_nothing(live_only, restartable_redis, live_asgi, child_env, room):
    env = {**child_env, "REDIS_URL": restartable_redis.url}
    # Writers pause a little between posts so that the restart falls in the middle of the run.
    writers = start_writers(env, room.slug, pause=0.004)
    readers, threads, errors = start_readers(live_asgi, room.slug, drop_after=random.randint(100, 400))
    deadline = time.monotonic() + 60
    while not all(reader.events for reader in readers) or Message.objects.filter(room=room).count() < TOTAL // 4:
        assert time.monotonic() < deadline, "writers or readers made no progress"
        time.sleep(0.02)
    before = Message.objects.filter(room=room).count()
    restartable_redis.kill()  # SIGKILL, as a crash: no goodbye to the subscribers
    deadline = time.monotonic() + 30
    while (after := Message.objects.filter(room=room).count()) < before + 20:  # posted while Redis is down
        assert time.monotonic() < deadline, "the writers posted nothing while Redis was down"
        time.sleep(0.02)
    restartable_redis.start()
    wait_writers(writers)
    join(threads, errors)
    # Every reader was live when Redis went away, and messages were posted during and after the outage.
    assert before < after < TOTAL
    assert_complete(room, readers)
    assert_live(readers)  # the hub's GAP after reconnecting made them catch up at once, not at the idle check


def follow_in_thread(url: str, until_seq: int) -> tuple[SSEReader, threading.Thread, dict]:
    reader = SSEReader(url)
    result: dict = {}

    def run() -> None:
        try:
            reader.read(until_seq=until_seq, timeout=2 * MAX_LATENCY)
        except BaseException as exc:  # reported by the test thread
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return reader, thread, result


@pytest.mark.django_db(transaction=True)
def test_a_post_rolled_back_after_a_reader_subscribed_is_never_delivered(live_only, live_asgi, room):
    """A post's transaction is held open while a reader subscribes and reads history, then rolled back.

    Its sequence number is given to the next committed post; a message published before its commit
    would reach the reader as seq 1 and hide the real seq 1 (a loss and a phantom at once).
    """
    url = f"{live_asgi}/chat/{room.slug}/stream"
    early, early_thread, early_result = follow_in_thread(url, until_seq=2)  # subscribed before the post
    wait_for_waiters(1)
    inside, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    class RolledBack(Exception):
        pass

    def post_then_roll_back() -> None:
        try:
            with transaction.atomic():
                message_post(room=room, author=None, text="rolled back")
                inside.set()
                assert release.wait(30)
                raise RolledBack
        except RolledBack:
            pass
        except BaseException as exc:
            failures.append(exc)
            inside.set()
        finally:
            connection.close()

    poster = threading.Thread(target=post_then_roll_back)
    poster.start()
    assert inside.wait(30) and not failures, failures
    late, late_thread, late_result = follow_in_thread(url, until_seq=2)  # subscribes while the post is open
    wait_for_waiters(2)
    release.set()
    poster.join(30)
    assert not failures, failures
    message_post(room=room, author=None, text="committed one")
    message_post(room=room, author=None, text="committed two")
    for reader, thread, result in ((early, early_thread, early_result), (late, late_thread, late_result)):
        thread.join(60)
        assert "error" not in result, result.get("error")
        assert [(seq, envelope["text"]) for seq, envelope in reader.events] == [
            (1, "committed one"),
            (2, "committed two"),
        ]
    assert_live([early, late])


KILLED_WRITER = """
import os, sys, time, django
django.setup()
from django.db import transaction
from chat.selectors import room_get
from chat.services import message_post
room = room_get(slug=sys.argv[1])
with transaction.atomic():
    message_post(room=room, author=None, text="killed inside its transaction")
    print("inside", flush=True)
    time.sleep(600)
"""


@pytest.mark.django_db(transaction=True)
def test_a_writer_killed_inside_its_transaction_leaves_no_hole_and_no_phantom(live_only, live_asgi, child_env, room):
    message_post(room=room, author=None, text="before")
    reader, thread, result = follow_in_thread(f"{live_asgi}/chat/{room.slug}/stream", until_seq=3)
    wait_for_waiters(1)
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, room.slug],
        env=child_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "inside", child.stderr.read()
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    message_post(room=room, author=None, text="after one")
    message_post(room=room, author=None, text="after two")
    thread.join(60)
    assert "error" not in result, result.get("error")
    expected = [(1, "before"), (2, "after one"), (3, "after two")]
    assert [(seq, envelope["text"]) for seq, envelope in reader.events] == expected
    assert list(Message.objects.filter(room=room).order_by("seq").values_list("seq", "text")) == expected
    assert_live([reader])


@pytest.mark.django_db(transaction=True)
def test_suppressed_publish_reaches_a_waiting_sse_reader_within_the_idle_check(live_asgi, room, redis_client, settings):
    message_post(room=room, author=None, text="first")
    reader = SSEReader(f"{live_asgi}/chat/{room.slug}/stream")
    got_first = threading.Event()
    result: dict = {}

    def run() -> None:
        reader.after = 0
        try:
            # Read the first message, then wait for the unpublished one.
            result["events"] = reader.read(until_seq=2, timeout=20)
            result["at"] = time.monotonic()
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not reader.events:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    got_first.set()
    time.sleep(0.2)  # the reader is now waiting on live messages
    pubsub = redis_client.pubsub()
    pubsub.subscribe(f"chat:room:{room.slug}")
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    posted_at = time.monotonic()
    message_post(room=room, author=None, text="never published", publish=False)
    thread.join(timeout=10)
    assert "error" not in result, result.get("error")
    assert [seq for seq, _ in result["events"]] == [1, 2]
    assert result["events"][1][1]["text"] == "never published"
    assert result["at"] - posted_at < settings.CHAT_IDLE_CHECK + 5  # the idle check, with slack for a loaded machine
    assert pubsub.get_message(timeout=0.2) is None  # it really was not published
    pubsub.close()
