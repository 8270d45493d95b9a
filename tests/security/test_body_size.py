"""Request bodies over DATA_UPLOAD_MAX_MEMORY_SIZE are refused with 413 on every POST endpoint."""

from __future__ import annotations

import pytest

from tests.security.endpoints import STATE_CHANGING

pytestmark = pytest.mark.django_db

LIMIT = 4096


@pytest.mark.parametrize("endpoint", STATE_CHANGING, ids=[e.name for e in STATE_CHANGING])
def test_bodies_over_the_limit_get_413_and_change_nothing(client, site, settings, endpoint):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    who, call, status = (endpoint.allowed or [(None, endpoint.anonymous[0][0], endpoint.anonymous[0][1])])[0]
    if who:
        client.force_login(getattr(site, who))
    url = call.url(site)
    padding = "x" * (LIMIT + 1)
    huge = client.post(
        url, f'{{"text": "{padding}", "params": {{}}, "from": "alice-main"}}', content_type="application/json"
    )
    assert huge.status_code == 413
    assert huge.json()["error"] == "too_large"
    form = client.post(url, {"text": padding, "slug": "big", "from": "alice-main"})
    assert form.status_code == 413
    assert call.send(client, site).status_code == status  # the same request under the limit goes through


def test_a_board_value_under_the_body_limit_but_over_the_board_limit_gets_413(client, site, settings):
    settings.BOARDS_MAX_VALUE_BYTES = 100
    client.force_login(site.staff)
    response = client.post(f"/boards/{site.board}/notify", '{"m": "%s"}' % ("x" * 200), content_type="application/json")
    assert response.status_code == 413


async def _raw_post(live_asgi: str, head: str, body: bytes = b"") -> tuple[int, bytes]:
    import asyncio

    host, port = live_asgi.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head.encode() + body)
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 10)  # a server reading the whole body first never answers
    rest = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return int(status.split()[1]), rest


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(live_asgi, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    head = "POST /ledger/transfers HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    status, rest = await _raw_post(live_asgi, head + "Content-Length: 1000000000\r\n\r\n", b"{")
    assert status == 413
    assert b"too_large" in rest


async def test_a_chunked_body_over_the_limit_is_refused(live_asgi, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT
    head = "POST /chat/x/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"x" * 1024
    status, rest = await _raw_post(live_asgi, head, (b"400\r\n" + chunk + b"\r\n") * (LIMIT // 1024 + 2))
    assert status == 413
    assert b"too_large" in rest
