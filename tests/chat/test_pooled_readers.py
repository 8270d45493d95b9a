"""PostgreSQL connection pooling (DATABASE_POOL=1) with many chat readers on a web node.

A uvicorn node with a pool of at most 2 connections serves 8 SSE readers whose idle checks read the database
5 times a second each: db_call hands its connection back to the pool after every read, so none waits for one
(a pool timeout would end the stream with an error) and every reader gets every message. On SQLite the
setting is refused with a clear error instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from chat.services import message_post
from tests.chat.conftest import SSEReader, readers_start
from tests.chat.test_multinode import WebNode
from tests.conftest import ROOT

READERS = 8
MESSAGES = 20


def on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith("postgres")


@pytest.mark.django_db(transaction=True)
def test_pooled_readers_release_their_connection(child_env, room):
    env = {
        **child_env,
        "DJANGO_SETTINGS_MODULE": "tests.chat.settings_pooled",
        "DATABASE_POOL": "1",
        "DATABASE_POOL_MIN_SIZE": "1",
        "DATABASE_POOL_MAX_SIZE": "2",
        "DATABASE_POOL_TIMEOUT": "2",
    }
    if not on_postgres():
        check = subprocess.run(
            [sys.executable, "manage.py", "check"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert check.returncode != 0
        assert "DATABASE_POOL=1 needs a postgres:// DATABASE_URL" in check.stderr
        return
    pooled = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    node = WebNode(env)
    try:
        node.wait_ready()
        readers = [SSEReader(f"{node.url}/chat/{room.slug}/stream") for _ in range(READERS)]
        threads, errors = readers_start(readers, until_seq=MESSAGES, timeout=60)
        time.sleep(1.0)  # several idle checks per reader before the first message: 2 connections for 8 readers
        for i in range(MESSAGES):
            message_post(room=room, author=None, text=f"m{i}")
            time.sleep(0.1)
        for thread in threads:
            thread.join(timeout=60)
            assert not thread.is_alive(), "a reader did not finish"
        assert not errors, errors
        for reader in readers:
            assert reader.seqs == list(range(1, MESSAGES + 1))
        assert "'pool': {'min_size': 1, 'max_size': 2, 'timeout': 2}" in pooled.stdout, pooled.stderr
    finally:
        node.stop()
