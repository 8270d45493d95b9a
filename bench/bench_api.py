"""API benchmark: the three JSON POST paths, today's handlers vs their django-ninja operations, side by side.

Chat post (POST /chat/<room>/messages vs POST /api/chat/rooms/<room>/messages), ledger transfer
(POST /ledger/transfers vs POST /api/ledger/transfers) and jobs enqueue (POST /jobs/noop/enqueue vs
POST /api/jobs/catalog/noop/enqueue), each through Django's whole request handler and middleware (the test
client, in this one process: no network, so the handlers' own cost is what differs). The same signed-in
session and JSON body for both; the API also once more with an API token instead of the session.
Rounds alternate old and new so a shared machine's load falls on both alike; the figure is the median
requests/s of the rounds and the ratio new/old (>= 0.90 is the issue's "within 10 %").

Loopback only: its own SQLite file and its own redis-server (switchboard.embedded_redis).

    .venv/bin/python bench/bench_api.py               # 1,000 requests per figure, 5 rounds
    .venv/bin/python bench/bench_api.py --quick       # 300 requests, 3 rounds
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 requests per figure, 3 rounds")
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    count = args.requests or (300 if args.quick else 1000)
    rounds = args.rounds or (3 if args.quick else 5)

    from switchboard.embedded_redis import RedisProcess

    # In memory (/dev/shm when there is one): the figures are the handlers' cost, not the disk's fsync.
    data_dir = tempfile.mkdtemp(prefix="bench-api-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    server = RedisProcess().start()
    os.environ.update(
        DATABASE_URL=f"sqlite:///{data_dir}/bench.sqlite3",
        REDIS_URL=server.url,
        DJANGO_SETTINGS_MODULE="config.settings",
        DATA_DIR=data_dir,
    )
    try:
        run(count, rounds)
    finally:
        server.stop()


def run(count: int, rounds: int) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from chat.models import Room
    from ledger.models import Account
    from ledger.services import account_create, transfer_create
    from switchboard.tokens import token_create

    settings.ALLOWED_HOSTS = ["*"]
    settings.CHAT_POST_RATE = settings.LEDGER_TRANSFER_RATE = settings.JOBS_ENQUEUE_RATE = 10**9
    settings.JOBS_USER_MAX_ACTIVE = None
    settings.LOGGING_CONFIG = None
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="bench-pass-123")
    Room.objects.create(slug="bench", title="Bench")
    bank = account_create(name="bank", kind=Account.Kind.SYSTEM)
    mine = account_create(name="mine", owner=user)
    account_create(name="other")
    for _ in range(20):
        transfer_create(source=bank, target=mine, amount=10**9)
    session = Client()
    session.force_login(user)
    secret = token_create(user=user, name="bench")[1]
    token = Client(headers={"Authorization": f"Bearer {secret}"})

    paths = {
        "chat post": ("/chat/bench/messages", "/api/chat/rooms/bench/messages", {"text": "hello"}, 201),
        "ledger transfer": (
            "/ledger/transfers",
            "/api/ledger/transfers",
            {"from": "mine", "to": "other", "amount": 1},
            201,
        ),
        "jobs enqueue": ("/jobs/noop/enqueue", "/api/jobs/catalog/noop/enqueue", {"params": {}}, 201),
    }

    def timed(client: Client, url: str, data: str, status: int) -> float:
        started = time.perf_counter()
        response = client.post(url, data, content_type="application/json")
        took = time.perf_counter() - started
        assert response.status_code == status, (url, response.status_code, response.content[:300])
        return took

    print(f"{count} requests per figure and round, {rounds} rounds: median requests/s (Django's handler and middleware")
    print("in one process, SQLite in memory; old and new requests interleaved one by one, so load hits both alike)")
    print(f"{'path':<17}{'old handler':>13}{'ninja (session)':>17}{'ratio':>8}{'ninja (token)':>15}{'ratio':>8}")
    for name, (old_url, new_url, body, status) in paths.items():
        data = json.dumps(body)
        variants = [(session, old_url), (session, new_url), (token, new_url)]
        for client, url in variants:  # warm up
            timed(client, url, data, status)
        figures: list[list[float]] = [[], [], []]
        for _ in range(rounds):
            totals = [0.0, 0.0, 0.0]
            for number in range(count):
                order = range(3) if number % 2 == 0 else reversed(range(3))
                for index in order:
                    totals[index] += timed(*variants[index], data, status)
            for index, total in enumerate(totals):
                figures[index].append(count / total)
        o, n, t = (statistics.median(figure) for figure in figures)
        print(f"{name:<17}{o:>13.0f}{n:>17.0f}{n / o:>8.2f}{t:>15.0f}{t / o:>8.2f}")


if __name__ == "__main__":
    main()
