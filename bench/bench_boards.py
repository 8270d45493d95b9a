"""Benchmark: N long-poll watchers on one board in ONE uvicorn process, then one notify.

Measures the time until every watcher has its answer (p50/p99/max), the server's memory per open
watcher and the Redis connections it holds, for the design (hub + lean ASGI path) and, in the same
run, the baseline (one Redis pub/sub connection per watcher) and the hub behind Django's full
middleware stack. Loopback only; starts its own redis-server, SQLite file and uvicorn; bounded.

    .venv/bin/python bench/bench_boards.py            # 1,000 / 5,000 / 10,000 watchers (a few minutes)
    .venv/bin/python bench/bench_boards.py --quick    # 1,000 watchers only
    .venv/bin/python bench/bench_boards.py --private  # a private board, watched with a staff session cookie
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BOARD = "bench-board"

from switchboard.embedded_redis import RedisProcess, free_port  # noqa: E402


class BigRedis(RedisProcess):
    """redis-server allowing enough clients for the naive baseline (one connection per watcher)."""

    def command(self) -> list[str]:
        return [*super().command(), "--maxclients", "30000"]


@dataclass
class Result:
    mode: str
    watchers: int
    p50: float
    p99: float
    max: float
    answered: int
    mem_per_watcher_kb: float
    redis_connections: int
    connect_seconds: float
    wake_cpu: float


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


COOKIE = ""  # "Cookie: sessionid=...\r\n" with --private: the watchers' staff session


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{COOKIE}Connection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


class Watcher(asyncio.Protocol):
    """One long-poll client connection: sends its request, notes when the whole answer has arrived.

    A bare protocol (no StreamReader, no task per connection) keeps the load client's CPU small, so
    the two cores go to the server being measured.
    """

    def __init__(
        self,
        request: bytes,
        answers: list[tuple[float, bytes]],
        all_done: asyncio.Future,
        total: int,
        event: bytes | None = None,
    ):
        self.event = event  # an SSE stream: the answer is this event arriving
        self.request = request
        self.answers = answers
        self.all_done = all_done
        self.total = total
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.event is not None:
            if self.event in self.buffer:
                self.answers.append((time.monotonic(), self.event))
                self.event = None
                if len(self.answers) >= self.total and not self.all_done.done():
                    self.all_done.set_result(None)
            self.buffer = self.buffer[-64:]
            return
        head, sep, body = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if len(body) >= length:
            self.answers.append((time.monotonic(), body[:length]))
            self.buffer = b""
            if len(self.answers) >= self.total and not self.all_done.done():
                self.all_done.set_result(None)


class Server:
    def __init__(self, mode: str, env: dict[str, str]) -> None:
        self.mode = mode
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "boards_server.py"), "--port", str(self.port), "--mode", mode],
            env=env,
            cwd=ROOT,
        )

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = await http_get(self.port, "/__bench/waiters")
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"the {self.mode} server did not start")
            await asyncio.sleep(0.1)

    async def waiters(self) -> int:
        _, body = await http_get(self.port, "/__bench/waiters")
        return json.loads(body)["waiters"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def run_one(mode: str, watchers: int, env: dict[str, str], redis_url: str, sse: bool = False) -> Result:
    from boards.services import board_notify

    server = Server(mode, env)
    admin = redis.Redis.from_url(redis_url)
    transports: list[asyncio.Transport] = []
    answers: list[tuple[float, bytes]] = []
    loop = asyncio.get_running_loop()
    all_done = loop.create_future()
    try:
        await server.wait_ready()
        # Warm the server (imports, URL resolver, hub, the wake path) before taking the memory baseline.
        for _ in range(3):
            version = board_notify(name=BOARD, value={"percent": 0, "message": "warm-up"})
            warm = asyncio.ensure_future(http_get(server.port, f"/boards/{BOARD}/watch?ts={version}&timeout=10"))
            await asyncio.sleep(0.3)
            board_notify(name=BOARD, value={"percent": 1, "message": "warm-up"})
            await warm
        version = board_notify(name=BOARD, value={"percent": 0, "message": "start"})
        await asyncio.sleep(0.5)
        rss_before = rss_kb(server.process.pid)
        request = f"GET /boards/{BOARD}/watch?ts={version}&timeout=120 HTTP/1.1\r\nHost: 127.0.0.1\r\n{COOKIE}\r\n"
        event = None
        if sse:  # a stream resuming after the current version: it waits for the next event
            request = (
                f"GET /boards/{BOARD}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n{COOKIE}Last-Event-ID: {version}\r\n\r\n"
            )
            event = b"id: %d\n" % (version + 1)
        request = request.encode()
        started = time.monotonic()
        for offset in range(0, watchers, 500):  # waves: the listen backlog never overflows

            def watcher() -> Watcher:
                return Watcher(request, answers, all_done, watchers, event)

            wave = await asyncio.gather(
                *(loop.create_connection(watcher, "127.0.0.1", server.port) for _ in range(min(500, watchers - offset)))
            )
            transports += [transport for transport, _protocol in wave]
            deadline = time.monotonic() + 60
            while (parked := await server.waiters()) < len(transports) - 500:  # at most ~2 waves in flight
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{mode}: only {parked} of {len(transports)} watchers parked")
                await asyncio.sleep(0.05)
        deadline = time.monotonic() + 60
        while (parked := await server.waiters()) < watchers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{mode}: only {parked} of {watchers} watchers parked")
            await asyncio.sleep(0.1)
        connect_seconds = time.monotonic() - started
        await asyncio.sleep(1.0)
        rss_parked = rss_kb(server.process.pid)
        own = admin.client_id()
        redis_connections = sum(1 for c in admin.client_list() if int(c["id"]) != own) - 1  # less the notifier's

        answers.clear()  # (a watcher answered early would show here: there must be none)
        await asyncio.sleep(0.2)
        if os.environ.get("BENCH_PROFILE"):
            await http_get(server.port, "/__bench/profile-start")
        cpu_before = cpu_seconds(server.process.pid)
        t0 = time.monotonic()
        board_notify(name=BOARD, value={"percent": 100, "message": "done"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(all_done), 60)
        wake_cpu = cpu_seconds(server.process.pid) - cpu_before
        if os.environ.get("BENCH_PROFILE"):
            await http_get(server.port, "/__bench/profile-stop")
        expected = event or b'"ts":%d' % (version + 1)
        latencies = [when - t0 for when, body in answers if expected in body]
        return Result(
            mode=mode,
            watchers=watchers,
            p50=statistics.median(latencies) if latencies else float("nan"),
            p99=percentile(latencies, 0.99) if latencies else float("nan"),
            max=max(latencies) if latencies else float("nan"),
            answered=len(latencies),
            mem_per_watcher_kb=(rss_parked - rss_before) / watchers,
            redis_connections=redis_connections,
            connect_seconds=connect_seconds,
            wake_cpu=wake_cpu,
        )
    finally:
        for transport in transports:
            transport.close()
        admin.close()
        server.stop()


def staff_session_cookie() -> str:
    """A staff user's session in the bench database, as the cookie a signed-in browser sends."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    user = get_user_model().objects.create_user(username="bench-staff", password=None, is_staff=True)
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 watchers per mode only")
    parser.add_argument("--tcp", action="store_true", help="Redis over TCP (default: the unix socket, as make run)")
    parser.add_argument("--sizes", default=None, help="comma-separated watcher counts (default 1000,5000,10000)")
    parser.add_argument("--modes", default="lean,naive,full", help="which servers to measure (default all three)")
    parser.add_argument("--private", action="store_true", help="a private board; watchers send a staff session")
    parser.add_argument("--sse", action="store_true", help="SSE streams (/stream) instead of long-polls (lean mode)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else ([1000] if args.quick else [1000, 5000, 10000])
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):  # raising the hard limit needs root (CAP_SYS_RESOURCE)
        hard = max(hard, max(sizes) + 1000)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the server
    if max(sizes) + 200 > hard:
        sys.exit(f"the open-file limit ({hard}) is too low for {max(sizes)} watchers: raise `ulimit -Hn`.")

    workdir = Path(tempfile.mkdtemp(prefix="bench-boards-"))
    # Over the embedded server's unix socket, as `make run` runs it (--tcp: over a TCP port instead).
    socket_path = None if args.tcp else workdir / "redis.sock"
    redis_server = BigRedis(data_dir=workdir / "redis", unix_socket=socket_path).start()
    print(f"redis: {redis_server.url}", flush=True)
    env = os.environ.copy()
    env.update(
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        REDIS_URL=redis_server.url,
        DJANGO_SETTINGS_MODULE="config.settings",
        SWITCHBOARD_DATA_DIR=str(workdir),
        DEBUG="0",
        SECRET_KEY="bench-only-not-secret",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        MAX_STREAMS_PER_CLIENT="100000",  # every watcher comes from this one address
    )
    os.environ.update(env)  # this process notifies through boards.services, on the same Redis and database
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    import django

    django.setup()
    from boards.services import board_notify

    board_notify(name=BOARD, value={"percent": 0, "message": "created"})  # the record; later notifies skip the DB
    if args.private:
        global COOKIE
        COOKIE = f"Cookie: {staff_session_cookie()}\r\n"
        board_notify(name=BOARD, value={"percent": 0, "message": "private"}, private=True)
        print("a private board: each watch request reads its session (cookie) and user before it parks")

    modes = args.modes.split(",")
    plan = [(mode, size) for size in sizes for mode in modes if mode == "lean" or size <= 5000]
    results: list[Result] = []
    try:
        print(f"{'mode':6} {'watchers':>8} {'p50 s':>7} {'p99 s':>7} {'max s':>7} {'answered':>8} "
              f"{'KB/watcher':>10} {'redis conns':>11} {'connect s':>9} {'wake CPU s':>10}")  # fmt: skip
        for mode, size in plan:
            try:
                result = uvloop.run(run_one(mode, size, env, redis_server.url, sse=args.sse))
            except RuntimeError as exc:
                print(f"{mode:6} {size:>8} failed: {exc}")
                continue
            results.append(result)
            print(
                f"{result.mode:6} {result.watchers:>8} {result.p50:>7.3f} {result.p99:>7.3f} {result.max:>7.3f} "
                f"{result.answered:>8} {result.mem_per_watcher_kb:>10.1f} {result.redis_connections:>11} "
                f"{result.connect_seconds:>9.1f} {result.wake_cpu:>10.2f}",
                flush=True,
            )
    finally:
        redis_server.stop()

    by = {(r.mode, r.watchers): r for r in results}
    ratios = []
    for size in sizes:
        lean, naive, full = by.get(("lean", size)), by.get(("naive", size)), by.get(("full", size))
        if lean and naive:
            ratios.append(f"p99 naive/lean@{size}={naive.p99 / lean.p99:.1f}x")
            ratios.append(f"redis conns naive/lean@{size}={naive.redis_connections}/{lean.redis_connections}")
            ratios.append(f"KB/watcher naive/lean@{size}={naive.mem_per_watcher_kb / lean.mem_per_watcher_kb:.2f}x")
            ratios.append(f"wake CPU naive/lean@{size}={naive.wake_cpu / max(lean.wake_cpu, 0.01):.1f}x")
        if lean and full:
            ratios.append(f"p99 full-stack/lean@{size}={full.p99 / lean.p99:.1f}x")
            ratios.append(f"wake CPU full-stack/lean@{size}={full.wake_cpu / max(lean.wake_cpu, 0.01):.1f}x")
    target = by.get(("lean", 5000))
    if target:
        met = target.p99 < 1.0 and target.redis_connections <= 2 and target.mem_per_watcher_kb < 50
        ratios.append(f"target@5000 {'met' if met else 'NOT met'}")
    print("RATIOS boards: " + "; ".join(ratios))


if __name__ == "__main__":
    main()
