"""Chat fan-out benchmark: 100 SSE subscribers on one ASGI server vs raw redis-py pub/sub, same run.

One uvicorn process serves config.asgi (SQLite file and a private redis-server of this run); 100
SSE subscribers follow one room; one publisher posts through chat.services.message_post, first at
a fixed rate, then flat out. The baseline publishes the same envelopes with raw redis-py to 100
redis-py subscribers (no Django, no database). Prints delivered messages per second and
publish-to-receive latency p50/p99, then ONE line of ratios.

.venv/bin/python bench/bench_chat.py [--quick] [--subscribers 100] [--rate 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from switchboard.embedded_redis import RedisProcess, free_port  # noqa: E402

PY = sys.executable
ROOM = "bench"


def run(cmd: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if result.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stderr}")
    return result.stdout


class Subscribers:
    """The subscriber process (bench/chat_subscribers.py)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [PY, str(ROOT / "bench" / "chat_subscribers.py"), *args],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("subscribers failed to start")
        assert json.loads(line)["ready"]

    def report(self, phase: str, expected: int, timeout: float) -> dict:
        self.proc.stdin.write(f"report {phase} {expected} {timeout}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def publish(mode: str, phase: str, count: int, rate: float, env: dict[str, str]) -> dict:
    out = run([PY, str(ROOT / "bench" / "chat_publisher.py"), mode, ROOM, phase, str(count), str(rate)], env)
    return json.loads(out.strip().splitlines()[-1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_phases(mode: str, subs: Subscribers, env: dict[str, str], opts, *, fanout_pid: int) -> dict[str, dict]:
    """Warm up, then the fixed-rate and flat-out phases; ``fanout_pid`` is the process doing the fan-out."""
    results = {}
    # Warm-up: connections, the hub subscription, caches.
    publish(mode, f"warm{mode}", 20, 50, env)
    subs.report(f"warm{mode}", 20, 15)
    for phase, count, rate in (("rate", opts.rate_count, opts.rate), ("flat", opts.flat_count, 0)):
        tag = f"{phase}{mode}"
        cpu_before = cpu_seconds(fanout_pid)
        spy = None
        if opts.profile and mode == "service" and phase == "rate":  # sample the server while it fans out
            spy = subprocess.Popen(
                [str(Path(PY).parent / "py-spy"), "record", "--nonblocking", "-r", "50", "-f", "raw",
                 "-d", str(max(2, int(count / rate) - 1)), "-p", str(fanout_pid), "-o", opts.profile],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        sent = publish(mode, tag, count, rate, env)
        if spy:
            spy.wait()
        got = subs.report(tag, count, 60)
        got["fanout_cpu_us"] = (cpu_seconds(fanout_pid) - cpu_before) * 1e6 / max(1, got["deliveries"])
        got["call_p50_ms"], got["call_p99_ms"] = sent["call_p50_ms"], sent["call_p99_ms"]
        span = (got["last_recv_ns"] - sent["first_send_ns"]) / 1e9 if got["last_recv_ns"] else float("nan")
        got["seconds"] = span
        got["deliveries_per_s"] = got["deliveries"] / span if span else 0.0
        got["expected"] = count * opts.subscribers
        got["publish_per_s"] = count / ((sent["last_send_ns"] - sent["first_send_ns"]) / 1e9)
        results[phase] = got
    return results


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise SystemExit(f"server at {url} did not answer")
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases (about a minute in all)")
    parser.add_argument("--tcp", action="store_true", help="Redis over TCP (default: the unix socket, as make run)")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second in the fixed-rate phase")
    parser.add_argument("--profile", metavar="FILE", help="run the server under py-spy, writing collapsed stacks")
    opts = parser.parse_args()
    seconds = 5 if opts.quick else 15
    opts.rate_count = int(opts.rate * seconds)
    opts.flat_count = 1000 if opts.quick else 3000

    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp:
        # Over the embedded server's unix socket, as `make run` runs it (--tcp: over a TCP port instead).
        socket_path = None if opts.tcp else Path(tmp) / "redis.sock"
        redis_server = RedisProcess(data_dir=Path(tmp) / "redis", unix_socket=socket_path).start()
        print(f"redis: {redis_server.url}", flush=True)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONPATH": str(ROOT),
            "REDIS_URL": redis_server.url,
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "SWITCHBOARD_DATA_DIR": tmp,
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789",
            "LOG_LEVEL": "WARNING",
            "MAX_STREAMS_PER_CLIENT": "100000",  # every subscriber comes from this one address
        }
        server = subs = None
        try:
            run([PY, "manage.py", "migrate", "-v", "0"], env)
            create = f"from chat.services import room_create; room_create(slug={ROOM!r})"
            run([PY, "manage.py", "shell", "-c", create], env)

            print(f"== raw redis-py fan-out: {opts.subscribers} subscribers", flush=True)
            subs = Subscribers(["redis", redis_server.url, f"chat:room:{ROOM}", "-", str(opts.subscribers)], env)
            raw = run_phases("raw", subs, env, opts, fanout_pid=redis_server.process.pid)
            subs.stop()

            print(f"== chat over SSE: one uvicorn process, {opts.subscribers} subscribers", flush=True)
            port = free_port()
            server = subprocess.Popen(
                [PY, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
                 "--no-access-log", "--log-level", "warning"],
                env=env, cwd=ROOT,
            )  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/chat/")
            last = httpx.get(f"{base}/chat/{ROOM}/messages", params={"after": 0, "limit": 1}).json()
            assert last["messages"] == []
            subs = Subscribers(["sse", base, ROOM, "0", str(opts.subscribers)], env)
            chat = run_phases("service", subs, env, opts, fanout_pid=server.pid)
        finally:
            if subs:
                subs.stop()
            if server:
                server.terminate()
                server.wait(timeout=10)
            redis_server.stop()

    print()
    header = (
        f"{'':28}{'deliveries/s':>14}{'p50 ms':>9}{'p99 ms':>9}{'delivered':>16}"
        f"{'send p99 ms':>13}{'fan-out CPU us/delivery':>25}"
    )
    print(header)
    for label, res in (("raw redis-py", raw), ("chat SSE", chat)):
        for phase in ("rate", "flat"):
            r = res[phase]
            name = f"{label}, {f'{opts.rate:g}/s' if phase == 'rate' else 'flat out'}"
            print(
                f"{name:28}{r['deliveries_per_s']:>14,.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
                f"{r['deliveries']:>9}/{r['expected']}{r['call_p99_ms']:>13.1f}{r['fanout_cpu_us']:>25.1f}"
            )
    raw_pub, chat_pub = raw["flat"]["publish_per_s"], chat["flat"]["publish_per_s"]
    print(f"(publisher flat out: raw {raw_pub:,.0f} msg/s, through the service {chat_pub:,.0f} msg/s)")
    ok_complete = all(r[p]["deliveries"] == r[p]["expected"] for r in (raw, chat) for p in ("rate", "flat"))
    flat_ratio = chat["flat"]["deliveries_per_s"] / raw["flat"]["deliveries_per_s"]
    p99_ratio = chat["rate"]["p99_ms"] / raw["rate"]["p99_ms"]
    print(
        f"RATIOS chat/raw: flat-out deliveries/s {flat_ratio:.2f} (target >= 0.50), "
        f"p99 at {opts.rate:g}/s {p99_ratio:.2f}x ({chat['rate']['p99_ms']:.1f} ms, target < 50 ms), "
        f"all delivered: {'yes' if ok_complete else 'NO'}"
    )


if __name__ == "__main__":
    main()
