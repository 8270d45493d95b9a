"""The shipped configuration, end to end: what a new user gets from `make run` on a fresh clone.

A clean copy of the working tree runs ``manage.py run_site`` as ``make run`` does (no REDIS_URL, no
DATABASE_URL: SQLite and the embedded Redis on its unix socket in a temporary data directory). Over
HTTP only: live chat and boards within a second, a job's progress to 100 %, a ledger transfer, /health,
a log free of tracebacks and errors, and Ctrl-C leaving no process behind.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
import uuid

import httpx
import pytest
import redis
from rq import Queue
from rq.registry import StartedJobRegistry

from jobs.conf import setting as jobs_setting
from tests.shipped import ShippedSite, Visitor

SETUP = """
from django.contrib.auth import get_user_model
from ledger.models import Account
from ledger.services import account_create, transfer_create
User = get_user_model()
User.objects.create_user("alice", password="alice-pass-123", is_staff=True)
User.objects.create_user("bob", password="bob-pass-123")
bank = account_create(name="shipped-bank", kind=Account.Kind.SYSTEM)
mine = account_create(name="alice-main", owner=User.objects.get(username="alice"))
account_create(name="bob-main", owner=User.objects.get(username="bob"))
transfer_create(source=bank, target=mine, amount=1000)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    shipped = ShippedSite(tmp_path_factory.mktemp("shipped"))
    try:
        shipped.start()
        setup = shipped.manage("shell", "-c", SETUP)
        assert setup.returncode == 0, setup.stderr
        yield shipped
    finally:
        shipped.stop()


@pytest.fixture(scope="module")
def alice(site):
    visitor = Visitor(site.url).login("alice", "alice-pass-123")
    yield visitor
    visitor.close()


@pytest.fixture(scope="module")
def bob(site):
    visitor = Visitor(site.url).login("bob", "bob-pass-123")
    yield visitor
    visitor.close()


def wait_until_no_job_runs(site: ShippedSite, *, timeout: float = 60.0) -> None:
    """Poll rq's started registries on the site's own Redis until no job runs."""
    connection = redis.Redis.from_url(site.redis_url)
    queues = [Queue(name, connection=connection) for name in jobs_setting("JOBS_WORKER_QUEUES")]
    deadline = time.monotonic() + timeout
    try:
        while any(StartedJobRegistry(queue=queue).get_job_ids() for queue in queues):
            assert time.monotonic() < deadline, "a job was still running after a minute"
            time.sleep(0.1)
    finally:
        connection.close()


def sse_lines(sock: socket.socket, lines: queue.Queue) -> None:
    """Each line the server sends on ``sock``, with the time it arrived, until the socket is closed."""
    with sock.makefile("rb") as stream:
        for raw in stream:
            lines.put((time.monotonic(), raw.decode(errors="replace").rstrip("\r\n")))


def open_stream(site_url: str, path: str, cookies) -> socket.socket:
    """An SSE request on a raw socket (the test can close it at once, as a browser tab closing does)."""
    host, port = site_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\nCookie: {cookie}\r\n\r\n"
    sock.sendall(request.encode())
    return sock


def test_the_site_starts_healthy_on_the_embedded_redis_socket(site):
    answer = httpx.get(f"{site.url}/health", timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["checks"]["hub"]["connected"] is True
    assert f"Embedded Redis on unix://{site.data_dir / 'redis.sock'}" in site.log()
    for page in ("/", "/chat/", "/boards/", "/jobs/", "/ledger/", "/accounts/login/"):
        assert httpx.get(site.url + page, timeout=10).status_code == 200, page


def test_a_chat_message_reaches_another_users_stream_within_a_second(site, alice, bob):
    history = bob.client.get("/chat/lobby/messages?after=0").json()
    after = max((m["seq"] for m in history["messages"]), default=0)
    lines: queue.Queue = queue.Queue()
    sock = open_stream(site.url, f"/chat/lobby/stream?after={after}", bob.client.cookies)
    reader = threading.Thread(target=sse_lines, args=(sock, lines), daemon=True)
    reader.start()
    while not lines.get(timeout=10)[1].startswith(": connected"):
        pass
    time.sleep(0.5)  # the stream is parked, waiting for live messages
    text = f"hello bob {uuid.uuid4().hex[:6]}"
    sent = time.monotonic()
    answer = alice.post_json("/chat/lobby/messages", {"text": text})
    assert answer.status_code in (200, 201), answer.text
    while True:
        at, line = lines.get(timeout=10)
        if line.startswith("data:") and text in line:
            break
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    reader.join(timeout=5)
    assert at - sent < 1.0, f"the message took {at - sent:.2f} s to reach the other user's stream"


def test_a_chat_poll_without_timeout_answers_at_once(site, bob):
    started = time.monotonic()
    answer = bob.client.get("/chat/lobby/poll?after=0&timeout=0")
    assert answer.status_code == 200
    assert answer.json()["messages"]  # the demo room's history
    assert time.monotonic() - started < 0.5  # not the hub's 5 s connect timeout


def test_a_board_notify_wakes_a_parked_watcher_within_a_second(site, alice, bob):
    current = bob.client.get("/boards/demo-progress/watch").json()
    result: dict = {}

    def watch():
        answer = bob.client.get(f"/boards/demo-progress/watch?ts={current['ts']}&timeout=20")
        result.update(answer.json(), at=time.monotonic())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    time.sleep(1.5)  # parked
    assert not result
    sent = time.monotonic()
    notified = alice.post_json("/boards/demo-progress/notify", {"percent": 77, "message": "shipped"})
    assert notified.status_code == 200, notified.text
    watcher.join(timeout=25)
    assert result["ts"] == notified.json()["ts"] == current["ts"] + 1
    assert result["value"] == {"percent": 77, "message": "shipped"}
    assert result["at"] - sent < 1.0, f"the watcher woke {result['at'] - sent:.2f} s after the notify"


def test_a_countdown_jobs_progress_board_reaches_100_percent(site, alice):
    enqueued = alice.post_json("/jobs/countdown/enqueue", {"params": {"steps": 3, "delay": 0.1}})
    assert enqueued.status_code == 201, enqueued.text
    run_url = enqueued.json()["json_url"]
    deadline = time.monotonic() + 60
    board = None
    while board is None and time.monotonic() < deadline:
        board = alice.client.get(run_url).json().get("board")
        time.sleep(0.2)
    assert board, "the run names no progress board"
    ts, value = 0, None
    while time.monotonic() < deadline:
        answer = alice.client.get(f"/boards/{board}/watch?ts={ts}&timeout=10")
        if answer.status_code == 200:
            data = answer.json()
            ts, value = data["ts"], data["value"]
            if isinstance(value, dict) and value.get("percent") == 100:
                break
        else:
            time.sleep(0.2)  # the board appears with the job's first progress
    assert isinstance(value, dict) and value.get("percent") == 100, value
    while time.monotonic() < deadline and alice.client.get(run_url).json()["status"] != "finished":
        time.sleep(0.2)
    assert alice.client.get(run_url).json()["status"] == "finished"


def test_a_ledger_transfer_succeeds(site, alice):
    body = {"from": "alice-main", "to": "bob-main", "amount": 250, "idempotency_key": f"shipped-{uuid.uuid4().hex}"}
    answer = alice.post_json("/ledger/transfers", body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "successful"


def test_zz_the_log_is_clean_and_ctrl_c_leaves_nothing_running(site):
    """Runs last in this module (zz): the site is interrupted here."""
    assert httpx.get(f"{site.url}/health", timeout=10).status_code == 200
    assert site.log_problems() == [], "\n".join(site.log_problems()[:20])
    log = site.log()
    assert "Applying " not in log and "migration(s) applied" in log  # one line for the migrations, not 30
    schedulers = httpx.get(f"{site.url}/health", timeout=10).json()["checks"]["jobs_scheduler"]["alive"]
    assert schedulers == 1  # one cron scheduler runs...
    started = site.log().count("Loading cron configuration")
    assert started == 1, (
        f"the cron configuration is announced {started} times: one scheduler, one line"
    )  # ...says so once
    # The check below can see the embedded server (valkey-server or redis-server, on the data dir's socket).
    assert any(str(site.data_dir / "redis.sock") in line for line in site.left_running())
    # A user's tabs are open at Ctrl-C: a chat stream and a parked board watch. They must end with the site,
    # not be cancelled by uvicorn after its graceful-shutdown timeout (an ERROR line and a 3 s wait).
    cookies = Visitor(site.url).login("bob", "bob-pass-123").client.cookies
    lines: queue.Queue = queue.Queue()
    stream = open_stream(site.url, "/chat/lobby/stream?after=0", cookies)
    threading.Thread(target=sse_lines, args=(stream, lines), daemon=True).start()
    while not lines.get(timeout=10)[1].startswith(": connected"):
        pass
    current = httpx.get(f"{site.url}/boards/demo-progress/watch", timeout=10).json()["ts"]
    watched: dict = {}

    def watch():
        answer = httpx.get(f"{site.url}/boards/demo-progress/watch?ts={current}&timeout=25", timeout=30)
        watched.update(status=answer.status_code, ts=answer.json()["ts"])

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    # No job is running (the demo countdown started at boot runs about 10 s): Ctrl-C is a warm shutdown that
    # lets a running job finish, as rq's and Celery's workers do; the bound below is for the open tabs.
    wait_until_no_job_runs(site)
    time.sleep(1.0)  # both are parked
    started = time.monotonic()
    code = site.interrupt()
    stopped_in = time.monotonic() - started
    assert code == 0, site.log()[-3000:]
    watcher.join(timeout=5)
    assert watched == {"status": 200, "ts": current}  # answered at shutdown with the board as it is
    time.sleep(0.5)
    assert site.left_running() == []
    assert site.log_problems() == [], "\n".join(site.log_problems()[:20])
    # Had uvicorn waited out its 3 s graceful timeout and cancelled the tabs, the log check above would have
    # found its ERROR; had a process ignored SIGTERM, run_site would have said so and killed it after 10 s.
    assert "did not stop within" not in site.log(), site.log()[-3000:]
    # The bound itself is generous for a loaded machine (load average 4 and more).
    assert stopped_in < 15, f"Ctrl-C took {stopped_in:.1f} s with a stream and a watch open\n{site.log()[-3000:]}"
    assert json.dumps(site.log()).count("Stopped.") == 1
