"""Benchmark helper: N subscribers in one process, over SSE (the chat app) or raw redis-py pub/sub.

Each message's text carries "bench <phase> <n> <send-time-ns>" (CLOCK_MONOTONIC, shared by the
processes of this machine). Commands on stdin, answers on stdout (one JSON line each):
    report <phase> <expected-per-subscriber> <timeout-s>
waits until every subscriber has the phase's messages (or the timeout), then prints its stats.

python bench/chat_subscribers.py sse <base-url> <room[,room...]> <after> <n>
python bench/chat_subscribers.py redis <redis-url> <channel[,channel...]> - <n>
Subscriber i follows the (i mod rooms)th room; the expected count in a report is per subscriber.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections import defaultdict
from urllib.parse import urlsplit

TOKEN = re.compile(rb"bench (\w+) (\d+) (\d+)")


class Stats:
    def __init__(self, subscribers: int) -> None:
        self.subscribers = subscribers
        self.latencies: dict[str, list[int]] = defaultdict(list)
        self.counts: dict[str, list[int]] = defaultdict(lambda: [0] * subscribers)
        self.first_recv: dict[str, int] = {}
        self.last_recv: dict[str, int] = {}
        self.connected = 0

    def record(self, index: int, chunk: bytes) -> None:
        now = time.monotonic_ns()
        for phase_b, _n, sent in TOKEN.findall(chunk):
            phase = phase_b.decode()
            self.counts[phase][index] += 1
            self.latencies[phase].append(now - int(sent))
            self.first_recv.setdefault(phase, now)
            self.last_recv[phase] = now


async def sse_subscriber(index: int, base: str, room: str, after: int, stats: Stats) -> None:
    parts = urlsplit(base)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"GET /chat/{room}/stream?after={after} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 200 " in head.split(b"\r\n", 1)[0], head
    stats.connected += 1
    tail = b""
    while True:
        data = await reader.read(262144)
        if not data:
            return
        data = tail + data
        cut = data.rfind(b"\n\n")
        if cut < 0:
            tail = data
            continue
        tail = data[cut + 2 :]
        stats.record(index, data[: cut + 2])


async def redis_subscriber(index: int, url: str, channel: str, stats: Stats) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    stats.connected += 1
    async for message in pubsub.listen():  # cheaper per message than get_message(timeout=...)
        if message["type"] == "message":
            stats.record(index, message["data"])


async def main() -> None:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    mode, target, name, after, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    stats = Stats(n)
    names = name.split(",")
    if mode == "sse":
        subscriber = sse_subscriber
        args = [(target, names[i % len(names)], int(after)) for i in range(n)]
    else:
        subscriber = redis_subscriber
        args = [(target, names[i % len(names)]) for i in range(n)]
    tasks = []
    for offset in range(0, n, 500):  # in waves: the listen backlog never overflows
        tasks += [asyncio.create_task(subscriber(i, *args[i], stats)) for i in range(offset, min(n, offset + 500))]
        while stats.connected < len(tasks) - 250:
            for task in tasks:
                if task.done() and task.exception():
                    raise task.exception()
            await asyncio.sleep(0.05)
    while stats.connected < n:
        for task in tasks:
            if task.done() and task.exception():
                raise task.exception()
        await asyncio.sleep(0.05)
    print(json.dumps({"ready": n}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        _cmd, phase, expected, timeout = line.split()
        deadline = time.monotonic() + float(timeout)
        while min(stats.counts[phase]) < int(expected) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        lat = sorted(stats.latencies[phase])

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p * len(lat)))] / 1e6 if lat else float("nan")

        counts = stats.counts[phase]
        print(
            json.dumps(
                {
                    "phase": phase,
                    "deliveries": sum(counts),
                    "min_per_subscriber": min(counts),
                    "max_per_subscriber": max(counts),
                    "p50_ms": pct(0.50),
                    "p99_ms": pct(0.99),
                    "max_ms": lat[-1] / 1e6 if lat else float("nan"),
                    "first_recv_ns": stats.first_recv.get(phase),
                    "last_recv_ns": stats.last_recv.get(phase),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
