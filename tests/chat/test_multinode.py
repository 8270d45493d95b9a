"""Two web nodes, one Redis Sentinel set, one database: a failover loses no chat message.

Two uvicorn processes on two ports (config.asgi, as a deployment runs them) share the test database and a
Sentinel-backed REDIS_URL (one master, one replica, three sentinels on loopback); on PostgreSQL they pool
their connections (DATABASE_POOL=1). SSE readers follow a room on both nodes while writer processes post.
Mid-run the master is SIGKILLed; the sentinels promote the replica, each node's hub reconnects to the new
master and sends GAP, and writes go on. The writers post in three waves held apart by gate files, so
messages are committed before the kill, between the kill and the failover, and after it however loaded
the machine is. Every reader on either node ends with every committed message
exactly once, in order, and on time (the idle check is 30 s, so late delivery would show). The time from
the kill to the first successful Redis write is printed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from chat.models import Message
from switchboard.connections import redis_client
from switchboard.embedded_redis import free_port
from tests.chat.conftest import SSEReader, readers_start
from tests.chat.test_concurrency import wait_writers
from tests.conftest import ROOT
from tests.jobs.conftest import wait_for
from tests.sentinel import SentinelSet

WRITERS = 2
PER_WRITER = 150
TOTAL = WRITERS * PER_WRITER
READERS_PER_NODE = 2
GATES = (PER_WRITER // 4, PER_WRITER // 2)  # each writer waits at these counts until the test opens the gate
MAX_LATENCY = 10.0  # a third of the nodes' 30 s idle check


@pytest.fixture
def sentinel_set():
    cluster = SentinelSet(password="multi-pw").start()
    yield cluster
    cluster.stop()


class WebNode:
    """``uvicorn config.asgi:application`` in a process of its own on a free port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, self.process.stderr.read()
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "a web node did not start"
            time.sleep(0.1)

    def hub(self) -> dict:
        return json.loads(httpx.get(f"{self.url}/health", timeout=5).text)["checks"]["hub"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def first_write_after(url: str, start: float, timeout: float = 30.0) -> float:
    client = redis_client(url, socket_connect_timeout=1, socket_timeout=1)
    while True:
        try:
            client.set("sb-multinode:probe", "ok")
            return time.monotonic() - start
        except Exception:
            assert time.monotonic() - start < timeout, "no Redis write succeeded after the failover"
            time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_two_nodes_lose_no_message_across_a_sentinel_failover(sentinel_set, child_env, room, settings, tmp_path):
    env = {**child_env, "REDIS_URL": sentinel_set.url, "DJANGO_SETTINGS_MODULE": "tests.chat.settings_multinode"}
    if env["DATABASE_URL"].startswith("postgres"):
        env |= {"DATABASE_POOL": "1", "DATABASE_POOL_MAX_SIZE": "4"}  # as a deployment on PostgreSQL runs
    settings.REDIS_URL = sentinel_set.url
    nodes = [WebNode(env), WebNode(env)]
    writers: list[subprocess.Popen] = []
    try:
        for node in nodes:
            node.wait_ready()
        readers = [SSEReader(f"{node.url}/chat/{room.slug}/stream") for node in nodes for _ in range(READERS_PER_NODE)]
        threads, errors = readers_start(readers, until_seq=TOTAL, timeout=90)
        deadline = time.monotonic() + 30
        while sum(node.hub()["waiters"] for node in nodes) < len(readers):
            assert time.monotonic() < deadline, "the readers never went live"
            time.sleep(0.05)
        writer_command = [sys.executable, "-m", "tests.chat.writer", room.slug]
        writers = [
            subprocess.Popen(
                [*writer_command, str(w), str(PER_WRITER), "0.02", str(tmp_path), ",".join(map(str, GATES))],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for w in range(WRITERS)
        ]
        # The first wave is committed; the writers wait at their gate.
        wait_for(lambda: Message.objects.filter(room=room).count() >= WRITERS * GATES[0], timeout=60, interval=0.02)
        deadline = time.monotonic() + 60
        while not all(r.events for r in readers):
            assert time.monotonic() < deadline, "the readers received nothing"
            time.sleep(0.02)
        before = Message.objects.filter(room=room).count()
        killed_at = time.monotonic()
        old_port = sentinel_set.kill_master().port
        (tmp_path / str(GATES[0])).touch()  # second wave: posted while the master is dead or being replaced
        took = first_write_after(sentinel_set.url, killed_at)
        sentinel_set.wait_failover()
        during = Message.objects.filter(room=room).count()
        (tmp_path / str(GATES[1])).touch()  # third wave: after the failover
        wait_writers(writers)
        for thread in threads:
            thread.join(timeout=90)
            assert not thread.is_alive(), "an SSE reader did not finish"
        assert not errors, errors
        print(f"\nkill -> first successful Redis write: {took:.2f}s; messages before the kill {before}, "
              f"at failover {during}, total {TOTAL}")  # fmt: skip

        # Messages were committed before, during and after the failover; the nodes now use the new master.
        assert before == WRITERS * GATES[0] < during <= WRITERS * GATES[1] < TOTAL
        assert redis_client(sentinel_set.url).connection_pool.get_master_address()[1] != old_port
        for node in nodes:
            hub = node.hub()
            assert hub["connected"] and hub["reconnects"] >= 1, hub
        stored = list(Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True))
        assert stored == list(range(1, TOTAL + 1))
        for reader in readers:
            assert reader.seqs == list(range(1, TOTAL + 1))  # every message, once, in order, on either node
            slowest = max(reader.latencies())
            assert slowest < MAX_LATENCY, f"a message took {slowest:.1f} s: the hub did not follow the failover"
    finally:
        for proc in writers:
            if proc.poll() is None:
                proc.kill()
        for node in nodes:
            node.stop()
