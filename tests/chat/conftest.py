"""Chat test fixtures: rooms with unique names (the Redis may be shared), short idle checks, SSE readers."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
import uuid
from datetime import datetime

import httpx
import pytest

from chat.models import Room

_counter = itertools.count()


def unique_slug(prefix: str = "room") -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(autouse=True)
def chat_settings(settings):
    """Short idle checks and heartbeats so the recovery paths run within a test's time."""
    settings.CHAT_IDLE_CHECK = 0.5
    settings.CHAT_HEARTBEAT = 15.0
    settings.SWITCHBOARD_HUB_LINGER = 0.2
    # Fast hashing: the user fixtures otherwise spend about a second each on PBKDF2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


@pytest.fixture
def make_room(db):
    def make(title: str = "Test room") -> Room:
        return Room.objects.create(slug=unique_slug(), title=title)

    return make


@pytest.fixture
def room(make_room) -> Room:
    return make_room()


@pytest.fixture
async def hub_closed_after():
    """Close the event loop's hub when an async test ends (no reader task left behind)."""
    yield
    from switchboard.hub import get_hub

    await get_hub().close()


class SSEReader:
    """A real Server-Sent Events client: records (seq, envelope) pairs; may drop and resume."""

    def __init__(self, url: str, *, after: int = 0) -> None:
        self.url = url
        self.after = after
        self.events: list[tuple[int, dict]] = []
        self.arrivals: list[float] = []  # wall-clock time each event arrived (time.time())
        self.connections = 0
        self.comments: list[str] = []

    def read(self, *, until_seq: int, drop_after: int | None = None, timeout: float = 90.0) -> list[tuple[int, dict]]:
        """Read until seq ``until_seq``; after ``drop_after`` events close and resume with Last-Event-ID."""
        deadline = time.monotonic() + timeout
        last_id: str | None = None
        while True:
            headers = {"Last-Event-ID": last_id} if last_id is not None else {}
            url = f"{self.url}?after={self.after}"
            self.connections += 1
            with httpx.stream(
                "GET", url, headers=headers, timeout=httpx.Timeout(10.0, read=min(30.0, timeout))
            ) as response:
                assert response.status_code == 200, response.read()
                assert response.headers["content-type"].startswith("text/event-stream")
                event_id, data = None, None
                for line in response.iter_lines():
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"reader got {len(self.events)} events before the deadline")
                    if line.startswith(":"):
                        self.comments.append(line)
                    elif line.startswith("id: "):
                        event_id = line[4:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif line == "" and data is not None:
                        envelope = json.loads(data)
                        assert int(event_id) == envelope["seq"]
                        self.events.append((envelope["seq"], envelope))
                        self.arrivals.append(time.time())
                        last_id = event_id
                        event_id, data = None, None
                        if envelope["seq"] >= until_seq:
                            return self.events
                        if drop_after is not None and len(self.events) >= drop_after:
                            drop_after = None
                            break  # drop the connection; resume with Last-Event-ID
            if time.monotonic() > deadline:
                raise TimeoutError(f"reader got {len(self.events)} events before the deadline")

    @property
    def seqs(self) -> list[int]:
        return [seq for seq, _ in self.events]

    def latencies(self) -> list[float]:
        """Seconds from each message's creation (its envelope's ``created``) to its arrival here."""
        return [
            arrival - datetime.fromisoformat(envelope["created"]).timestamp()
            for arrival, (_, envelope) in zip(self.arrivals, self.events, strict=True)
        ]


def readers_start(
    readers: list[SSEReader], *, until_seq: int, timeout: float
) -> tuple[list[threading.Thread], list[BaseException]]:
    """Each reader reads until ``until_seq`` in a daemon thread of its own: the threads, and the list of their errors.

    The test thread joins the threads and asserts the list is empty (an assertion in a thread fails no test).
    """
    errors: list[BaseException] = []

    def run(reader: SSEReader) -> None:
        try:
            reader.read(until_seq=until_seq, timeout=timeout)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(reader,), daemon=True) for reader in readers]
    for thread in threads:
        thread.start()
    return threads, errors


def wait_for_waiters(count: int, timeout: float = 10.0) -> None:
    """Wait until the hubs of this process (the live_asgi server's) have ``count`` waiters: readers are live."""
    from switchboard.hub import _hubs

    deadline = time.monotonic() + timeout
    while sum(hub.waiter_count() for hub in list(_hubs.values())) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} live readers after {timeout}s")
        time.sleep(0.02)
