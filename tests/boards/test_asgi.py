"""The lean ASGI path: which requests take it, what it still checks, and 1,000 watchers on 2 Redis connections."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import time

import httpx
import redis
from asgiref.sync import sync_to_async
from django.test import RequestFactory

from boards.asgi import LeanASGIHandler, lean_router
from boards.services import board_channel, board_notify
from boards.views import DirectAnswer
from switchboard.connections import redis_sync
from switchboard.hub import HUB_CLIENT_NAME, _hubs, get_hub
from tests.boards.conftest import read_http_response


def test_watch_and_stream_gets_take_the_lean_path_and_the_rest_the_full_stack(live_asgi, board):
    lean = httpx.get(f"{live_asgi}/boards/{board}/watch", timeout=5)
    full = httpx.get(f"{live_asgi}/boards/{board}/", timeout=5)
    assert lean.status_code == full.status_code == 200
    assert "x-frame-options" not in lean.headers  # no middleware ran
    assert full.headers["x-frame-options"] == "DENY"
    posted = httpx.post(f"{live_asgi}/boards/{board}/watch", timeout=5)  # not a GET: the full stack answers
    assert posted.status_code == 405
    assert posted.headers["x-frame-options"] == "DENY"


async def test_router_sends_only_matching_gets_to_the_lean_handler():
    calls = []

    async def default_app(scope, receive, send):
        calls.append(("default", scope.get("path")))

    app = lean_router(default_app, pattern=r"^/lean$")
    assert isinstance(app.lean_handler, LeanASGIHandler)

    async def lean_call(scope, receive, send):
        calls.append(("lean", scope["path"]))

    app.lean_handler.handle = lean_call
    for method, path in [("GET", "/lean"), ("HEAD", "/lean"), ("POST", "/lean"), ("GET", "/other")]:
        await app({"type": "http", "method": method, "path": path}, None, None)
    await app({"type": "lifespan"}, None, None)
    assert calls == [
        ("lean", "/lean"),
        ("lean", "/lean"),
        ("default", "/lean"),
        ("default", "/other"),
        ("default", None),
    ]


def server_waiters(channel: str) -> int:
    """Watchers parked on ``channel`` in this process's hubs (the live server's, once it made one)."""
    return sum(hub.waiter_count(channel) for hub in list(_hubs.values()) if not hub._closed)


async def test_1000_concurrent_watchers_are_all_woken_by_one_notify_on_at_most_2_redis_connections(
    restartable_redis, live_asgi, board_name, settings
):
    settings.SWITCHBOARD_MAX_STREAMS_PER_CLIENT = 2000  # all 1,000 watchers come from one address
    await sync_to_async(board_notify)(name=board_name, value={"percent": 0})
    redis_sync().connection_pool.disconnect()  # only the server's connections remain on this Redis
    host, port = live_asgi.removeprefix("http://").split(":")
    request = f"GET /boards/{board_name}/watch?ts=1&timeout=60 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()

    streams = []
    for _ in range(10):  # in waves, so the listen backlog never overflows
        wave = await asyncio.gather(*(asyncio.open_connection(host, int(port)) for _ in range(100)))
        for _reader, writer in wave:
            writer.write(request)
        streams += wave
    channel = board_channel(board_name)
    deadline = time.monotonic() + 30
    while server_waiters(channel) < 1000:
        assert time.monotonic() < deadline, f"only {server_waiters(channel)} watchers are waiting"
        await asyncio.sleep(0.05)

    admin = redis.Redis.from_url(restartable_redis.url)

    def others() -> list[dict]:
        return [c for c in admin.client_list() if int(c["id"]) != admin.client_id()]

    # The hub's connection is named once its handshake is done, which may follow the first waiter's ask.
    while not any(c["name"] == HUB_CLIENT_NAME for c in others()):
        assert time.monotonic() < deadline, f"the hub's connection never showed: {others()}"
        await asyncio.sleep(0.05)
    assert len(others()) <= 2, others()
    assert sum(1 for c in others() if c["name"] == HUB_CLIENT_NAME) == 1
    # Waiters count from the moment they ask; the hub's one SUBSCRIBE may still be on its way.
    while admin.pubsub_numsub(channel)[0][1] == 0:
        assert time.monotonic() < deadline, "the hub never subscribed the board's channel"
        await asyncio.sleep(0.05)
    assert admin.pubsub_numsub(channel)[0][1] == 1  # one Redis subscriber stands for the 1,000 watchers
    admin.close()

    await sync_to_async(board_notify)(name=board_name, value={"percent": 100, "message": "done"})
    responses = await asyncio.wait_for(asyncio.gather(*(read_http_response(r) for r, _w in streams)), 30)
    assert len(responses) == 1000
    url = f"/boards/{board_name}/watch?ts=2"
    expected = f'{{"value":{{"percent":100,"message":"done"}},"ts":2,"next_update_url":"{url}"}}'
    assert {(status, body) for status, _headers, body in responses} == {(200, expected.encode())}
    for _reader, writer in streams:
        writer.close()


async def test_a_watcher_that_disconnects_leaves_the_hub_at_once(live_asgi, board):
    host, port = live_asgi.removeprefix("http://").split(":")
    request = f"GET /boards/{board}/watch?ts=1&timeout=60 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    streams = await asyncio.gather(*(asyncio.open_connection(host, int(port)) for _ in range(50)))
    for _reader, writer in streams:
        writer.write(request)
    channel = board_channel(board)
    deadline = time.monotonic() + 60
    while server_waiters(channel) < 50:
        assert time.monotonic() < deadline, f"only {server_waiters(channel)} of 50 watchers parked"
        await asyncio.sleep(0.02)
    for _reader, writer in streams:
        writer.close()
    deadline = time.monotonic() + 30  # long before the watchers' 60 s timeout
    while server_waiters(channel):
        assert time.monotonic() < deadline, "disconnected watchers are still parked"
        await asyncio.sleep(0.02)


async def test_a_stream_client_that_disconnects_leaves_the_hub(live_asgi, board):
    host, port = live_asgi.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET /boards/{board}/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert b"text/event-stream" in head and b"x-frame-options" not in head.lower()  # the lean path
    channel = board_channel(board)
    deadline = time.monotonic() + 10
    while server_waiters(channel) < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    writer.close()
    deadline = time.monotonic() + 5
    while server_waiters(channel):
        assert time.monotonic() < deadline, "a closed stream is still subscribed"
        await asyncio.sleep(0.02)


def test_lean_paths_follow_wherever_the_host_includes_boards(settings):
    from boards.asgi import lean_paths

    settings.ROOT_URLCONF = "tests.boards.urls_elsewhere"
    pattern = re.compile(lean_paths())
    assert pattern.match("/noticeboards/build-7/watch") and pattern.match("/noticeboards/b/stream")
    assert not pattern.match("/boards/build-7/watch") and not pattern.match("/noticeboards/build-7/")
    settings.ROOT_URLCONF = "tests.chat.urls_alone"
    assert not re.compile(lean_paths()).match("/boards/build-7/watch")


async def _raw_watch(host: str, port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return reader, writer


async def test_parked_watchers_are_answered_from_the_hubs_tick_with_the_bytes_the_view_sends(
    live_asgi, board, monkeypatch
):
    answered = []
    original = DirectAnswer.__call__

    def spy(self, state):
        sent = original(self, state)
        answered.append((sent, state.version))
        return sent

    monkeypatch.setattr(DirectAnswer, "__call__", spy)
    host, port = live_asgi.removeprefix("http://").split(":")
    reader, _writer = await _raw_watch(host, int(port), f"/boards/{board}/watch")
    _status, _, body = await asyncio.wait_for(read_http_response(reader), 10)
    version = json.loads(body)["ts"]
    parked = [await _raw_watch(host, int(port), f"/boards/{board}/watch?ts={version}&timeout=60") for _ in range(20)]
    channel = board_channel(board)
    deadline = time.monotonic() + 30
    while server_waiters(channel) < 20:
        assert time.monotonic() < deadline, f"only {server_waiters(channel)} of 20 watchers parked"
        await asyncio.sleep(0.02)
    new = await sync_to_async(board_notify)(name=board, value={"text": "<b>&\u00e9"})
    answers = [await asyncio.wait_for(read_http_response(reader), 10) for reader, _ in parked]
    # The same request once the board has moved on answers at once, through the view's own return.
    reader, _writer = await _raw_watch(host, int(port), f"/boards/{board}/watch?ts={version}&timeout=60")
    plain = await asyncio.wait_for(read_http_response(reader), 10)
    assert answered == [(True, new)] * 20  # every parked watcher was answered by the tick, none by its task
    for status, headers, body in answers:
        assert (status, body) == (plain[0], plain[2])
        assert {k: v for k, v in headers.items() if k != "date"} == {k: v for k, v in plain[1].items() if k != "date"}
    assert json.loads(plain[2]) == {
        "value": {"text": "<b>&\u00e9"},
        "ts": new,
        "next_update_url": f"/boards/{board}/watch?ts={new}",
    }
    for _reader, writer in parked:
        writer.close()


async def test_a_head_watch_is_left_to_its_task():
    request = RequestFactory().head("/boards/b/watch")
    assert DirectAnswer.for_request(request) is None  # nor outside a LeanASGIHandler (no send captured)
    assert DirectAnswer.for_request(RequestFactory().get("/boards/b/watch")) is None


async def test_the_hubs_delivery_pass_runs_with_the_garbage_collector_held_off(board):
    hub = get_hub()
    seen = []
    async with hub.subscribe(board_channel(board)) as sub:
        sub.attach(lambda messages: seen.append(gc.isenabled()) or True)
        await sync_to_async(board_notify)(name=board, value={"n": 1})
        deadline = time.monotonic() + 10
        while not seen:
            assert time.monotonic() < deadline, "the deliverer was never called"
            await asyncio.sleep(0.01)
    assert seen == [False]
    assert gc.isenabled()
