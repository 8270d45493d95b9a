"""Fixtures for the boards tests: unique board names (the Redis may be shared), a board with a value."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from boards.services import board_notify


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The user fixtures hash passwords; the default hasher costs about a second per user on this machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def board_name() -> str:
    """A board name no other test (nor another run on a shared Redis) uses."""
    return f"t-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def board(db, board_name) -> str:
    """A board whose value is {"percent": 10, "message": "start"} at version 1."""
    assert board_notify(name=board_name, value={"percent": 10, "message": "start"}) == 1
    return board_name


@pytest.fixture
async def loop_clients():
    """Closes this event loop's hub and async Redis client after the test."""
    yield
    from switchboard.connections import _async_clients
    from switchboard.hub import _hubs

    loop = asyncio.get_running_loop()
    hub = _hubs.pop(loop, None)
    if hub is not None:
        await hub.close()
    client = _async_clients.pop(loop, None)
    if client is not None:
        await client.aclose()


async def read_http_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response with a Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body
