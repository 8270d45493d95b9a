"""Each app's main flow, run inside its host site's process by ``tests.hosts.smoke --flow <app>``.

A flow takes the host's test client (signed in as ``user``) and returns what it observed as plain
JSON data; ``tests/install/test_host_sites.py`` asserts on it. Flows use only the app's services,
its public interface and its URLs, as another site would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import Client


def chat_flow(client: Client, user: Any) -> dict[str, Any]:
    """room_create, a subscriber on the room's channel, a post through the API, the room page."""
    import json

    from chat.models import Message
    from chat.services import room_create
    from switchboard.connections import redis_sync

    room = room_create(slug="host-room", title="Host room")
    subscriber = redis_sync().pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe("chat:room:host-room")
    subscriber.get_message(timeout=1)  # the subscribe confirmation
    posted = client.post("/chat/host-room/messages", {"text": "Hello <b>host</b>"}, content_type="application/json")
    heard = subscriber.get_message(timeout=5)
    subscriber.close()
    page = client.get("/chat/host-room/")
    html = page.content.decode()
    stored = [list(row) for row in Message.objects.filter(room=room).values_list("seq", "author__username", "text")]
    return {
        "post_status": posted.status_code,
        "posted": posted.json(),
        "published": json.loads(heard["data"]) if heard else None,
        "stored": stored,
        "page_status": page.status_code,
        "page_shows_message": 'data-seq="1"' in html and "Hello &lt;b&gt;host&lt;/b&gt;" in html,
        "page_has_raw_markup": "<b>host</b>" in html,
    }


def boards_flow(client: Client, user: Any) -> dict[str, Any]:
    """board_notify twice, then the long-poll watch from version 0 and the board page."""
    from boards.interface import board_notify

    versions = [
        board_notify(name="host-board", value={"percent": 40, "message": "copying"}),
        board_notify(name="host-board", value={"percent": 100, "message": "done"}),
    ]
    watch = client.get("/boards/host-board/watch?ts=0&timeout=5")
    page = client.get("/boards/host-board/")
    return {
        "versions": versions,
        "watch_status": watch.status_code,
        "watch": watch.json(),
        "page_status": page.status_code,
        "page_shows_value": 'aria-valuenow="100"' in page.content.decode() and "done" in page.content.decode(),
    }


def jobs_flow(client: Client, user: Any) -> dict[str, Any]:
    """A countdown enqueued through the API and a noop through the service, each run by a burst jobs_worker."""
    from django.core.management import call_command

    from boards.interface import board_get
    from jobs.services import job_enqueue

    enqueued = client.post(
        "/jobs/countdown/enqueue", {"params": {"steps": 3, "delay": 0.05}}, content_type="application/json"
    )
    countdown_id = enqueued.json()["id"]
    noop = job_enqueue(name="noop", params={}, owner=user)
    for queue in ("default", "high"):  # one worker per queue, as run_site runs them; --burst: stop when empty
        call_command("jobs_worker", queue, "--burst", verbosity=0)
    job_ids = {"countdown": countdown_id, "noop": noop.job_id}
    runs = {name: client.get(f"/jobs/runs/{job_id}.json").json() for name, job_id in job_ids.items()}
    return {
        "enqueue_status": enqueued.status_code,
        "runs": {
            name: {key: run.get(key) for key in ("status", "queue", "result", "attempts", "owner", "progress")}
            for name, run in runs.items()
        },
        "progress_board": board_get(name=runs["countdown"]["board"])[1],
    }


def ledger_flow(client: Client, user: Any) -> dict[str, Any]:
    """account_create, a deposit through the service, a transfer and an overdraft through the API."""
    from ledger.interface import account_balance
    from ledger.models import Account
    from ledger.selectors import ledger_audit
    from ledger.services import account_create, transfer_create

    bank = account_create(name="host-bank", kind=Account.Kind.SYSTEM)
    mine = account_create(name="host-main", owner=user)
    account_create(name="host-other")
    deposit = transfer_create(source=bank, target=mine, amount=1000)
    after_deposit = account_balance(name="host-main")

    def transfer(amount: int, key: str):
        body = {"from": "host-main", "to": "host-other", "amount": amount, "idempotency_key": key}
        return client.post("/ledger/transfers", body, content_type="application/json")

    sent = transfer(250, "host-1")
    overdraft = transfer(5000, "host-2")
    page = client.get("/ledger/accounts/host-main/")
    return {
        "deposit": deposit.status,
        "after_deposit": after_deposit,
        "transfer": [sent.status_code, sent.json()["status"]],
        "overdraft": [overdraft.status_code, overdraft.json()["error"]],
        "balances": {name: account_balance(name=name) for name in ("host-bank", "host-main", "host-other")},
        "page_shows_balance": 'data-balance="750"' in page.content.decode(),
        "audit_ok": ledger_audit().ok,
    }


FLOWS: dict[str, Callable[[Client, Any], dict[str, Any]]] = {
    "chat": chat_flow,
    "boards": boards_flow,
    "jobs": jobs_flow,
    "ledger": ledger_flow,
}
