"""Row 10 of issue 13: forwarded headers are trusted only from configured proxy addresses (FORWARDED_ALLOW_IPS,
default none), so rotating X-Forwarded-For from loopback cannot multiply the per-client stream limit."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from boards.services import board_notify
from switchboard.embedded_redis import free_port
from switchboard.management.commands.run_site import Command, site_processes
from tests.conftest import ROOT

LIMIT = 2


def web_argv(port: int) -> list[str]:
    """The web server's command line exactly as run_site builds it."""
    options = vars(Command().create_parser("manage.py", "run_site").parse_args(["--port", str(port)]))
    return dict(site_processes(python="python", manage="manage.py", options=options))["web"]


def test_run_site_passes_the_setting_to_uvicorn(settings):
    settings.FORWARDED_ALLOW_IPS = []
    assert "--no-proxy-headers" in web_argv(8000)
    settings.FORWARDED_ALLOW_IPS = ["10.0.0.5", "10.0.0.6"]
    argv = web_argv(8000)
    assert argv[argv.index("--forwarded-allow-ips") + 1] == "10.0.0.5,10.0.0.6"
    assert "--no-proxy-headers" not in argv


async def _open(port: int, path: str, forwarded_for: str):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: {forwarded_for}\r\nConnection: close\r\n\r\n"
    writer.write(head.encode())
    await writer.drain()
    return reader, writer


async def _statuses(port: int, path: str, count: int) -> list[int]:
    opened = [await _open(port, path, f"203.0.113.{n}") for n in range(count)]
    statuses = []
    for reader, writer in opened:
        try:
            line = await asyncio.wait_for(reader.readline(), 3)
            statuses.append(int(line.split()[1]))
        except TimeoutError:
            statuses.append(0)  # still open: it holds a slot
    for _, writer in opened:
        writer.close()
    return statuses


@pytest.mark.django_db(transaction=True)
def test_rotating_x_forwarded_for_from_loopback_does_not_multiply_the_stream_limit(child_env, settings):
    board = f"fwd-{uuid.uuid4().hex[:10]}"
    board_notify(name=board, value={"percent": 1})
    port = free_port()
    env = {**child_env, "MAX_STREAMS_PER_CLIENT": str(LIMIT)}
    env.pop("FORWARDED_ALLOW_IPS", None)  # the default: trust no proxy
    argv = web_argv(port)
    server = subprocess.Popen([sys.executable, *argv[1:]], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/boards/{board}/watch", timeout=2)  # loopback only
                break
            except OSError:
                assert time.monotonic() < deadline, "the web server did not start"
                time.sleep(0.2)
        statuses = asyncio.run(_statuses(port, f"/boards/{board}/watch?ts=1&timeout=20", LIMIT + 3))
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert statuses.count(429) == 3, statuses  # one client (loopback) whatever X-Forwarded-For says
