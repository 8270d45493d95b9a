"""Chat fan-out benchmark: N SSE subscribers on one ASGI server process vs raw redis-py pub/sub, same run.

One web server process serves config.asgi (SQLite file and a private redis-server of this run); N
SSE subscribers follow one room (or --rooms rooms, subscriber i the (i mod rooms)th); one publisher
posts through chat.services.message_post (round-robin over the rooms), first at a fixed rate, then
flat out. The baseline publishes the same envelopes with raw redis-py to N redis-py subscribers (no
Django, no database). Prints delivered messages per second, publish-to-receive latency p50/p99, the
server's CPU per delivery and memory per subscriber, then ONE line of ratios.

The load generator (the subscribers' process) runs on the same 2 cores as the server: at 1,000 and
more subscribers it takes about as much CPU as the server, so latencies include waiting for a core.

.venv/bin/python bench/bench_chat.py [--quick] [--subscribers 100] [--rate 100] [--rooms 1]
.venv/bin/python bench/bench_chat.py --quick --servers uvicorn,granian,hypercorn --no-flat   # servers side by side
.venv/bin/python bench/bench_chat.py --curve     # p99 and CPU/delivery at 100, 1,000 and 10,000 subscribers
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
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


# The web servers measured (--servers); "uvicorn" is what run_site starts (uvloop and httptools when installed).
SERVERS = {
    "uvicorn": lambda port: [PY, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                             "--port", str(port), "--no-access-log", "--log-level", "warning"],
    "uvicorn-asyncio": lambda port: [PY, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                                     "--port", str(port), "--no-access-log", "--log-level", "warning",
                                     "--loop", "asyncio"],
    "uvicorn-tasks": lambda port: [PY, "-m", "uvicorn", "bench.asgi_tasks:application", "--host", "127.0.0.1",
                                   "--port", str(port), "--no-access-log", "--log-level", "warning"],
    "uvicorn-lean": lambda port: [PY, "-m", "uvicorn", "bench.asgi_lean_chat:application", "--host", "127.0.0.1",
                                  "--port", str(port), "--no-access-log", "--log-level", "warning"],
    "granian": lambda port: [str(Path(PY).parent / "granian"), "--interface", "asgi", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1", "--loop", "uvloop", "--no-ws",
                             "--log-level", "warning", "--backlog", "4096", "config.asgi:application"],
    "hypercorn": lambda port: [str(Path(PY).parent / "hypercorn"), "--bind", f"127.0.0.1:{port}",
                               "--worker-class", "uvloop", "--log-level", "warning", "--backlog", "4096",
                               "config.asgi:application"],
}  # fmt: skip


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


def publish(mode: str, rooms: str, phase: str, count: int, rate: float, env: dict[str, str]) -> dict:
    out = run([PY, str(ROOT / "bench" / "chat_publisher.py"), mode, rooms, phase, str(count), str(rate)], env)
    return json.loads(out.strip().splitlines()[-1])


def _tree(pid: int) -> list[int]:
    """The process and its descendants (granian and hypercorn serve from child processes)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (and its children) has used so far (Linux /proc)."""
    total = 0
    for each in _tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children, in KB."""
    total = 0
    for each in _tree(pid):
        try:
            lines = Path(f"/proc/{each}/status").read_text().splitlines()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), 0)
    return total


def run_phases(
    mode: str, rooms: str, subs: Subscribers, env: dict[str, str], opts, *, fanout_pid: int, run_tag: str = ""
) -> dict:
    """Warm up, then the fixed-rate and flat-out phases; ``fanout_pid`` is the process doing the fan-out."""
    results = {}
    per_room = len(rooms.split(","))
    # Warm-up: connections, the hub subscription, caches.
    # Tags name the run: a later server's readers replay the earlier messages from history first.
    # Every reader has caught up (history) and follows live before the measured phases start.
    started = time.monotonic()
    publish(mode, rooms, f"warm{mode}{run_tag}", 20 * per_room, 50 * per_room, env)
    warm = subs.report(f"warm{mode}{run_tag}", 20, max(60, opts.subscribers / 20))
    print(f"   warm-up: {warm['min_per_subscriber']}/20 to each in {time.monotonic() - started:.0f} s", flush=True)
    phases = [("rate", opts.rate_count, opts.rate)] + ([("flat", opts.flat_count, 0)] if opts.flat else [])
    for phase, count, rate in phases:
        tag = f"{phase}{mode}{run_tag}"
        cpu_before = cpu_seconds(fanout_pid)
        spy = None
        if opts.profile and mode == "service" and phase == "rate":  # sample the server while it fans out
            spy = subprocess.Popen(
                [str(Path(PY).parent / "py-spy"), "record", "--nonblocking", "-r", "50", "-f", "raw",
                 "-d", str(max(2, int(count / rate) - 1)), "-p", str(fanout_pid), "-o", opts.profile],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        sent = publish(mode, rooms, tag, count, rate, env)
        if spy:
            spy.wait()
        got = subs.report(tag, count // per_room, 120)
        got["fanout_cpu_us"] = (cpu_seconds(fanout_pid) - cpu_before) * 1e6 / max(1, got["deliveries"])
        got["call_p50_ms"], got["call_p99_ms"] = sent["call_p50_ms"], sent["call_p99_ms"]
        span = (got["last_recv_ns"] - sent["first_send_ns"]) / 1e9 if got["last_recv_ns"] else float("nan")
        got["seconds"] = span
        got["deliveries_per_s"] = got["deliveries"] / span if span else 0.0
        got["expected"] = (count // per_room) * opts.subscribers
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


def measure(opts, servers: list[str]) -> dict[str, dict]:
    """One run on a fresh Redis and database: the raw baseline (unless --no-raw), then each server in turn."""
    results: dict[str, dict] = {}
    rooms = ",".join(ROOM if opts.rooms == 1 else f"{ROOM}{i}" for i in range(opts.rooms))
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp:
        # Over the embedded server's unix socket, as `make run` runs it (--tcp: over a TCP port instead).
        socket_path = None if opts.tcp else Path(tmp) / "redis.sock"
        redis_server = BigRedis(data_dir=Path(tmp) / "redis", unix_socket=socket_path).start()
        print(f"redis: {redis_server.url}; {opts.subscribers} subscribers over {opts.rooms} room(s)", flush=True)
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
            "BENCH_CENSUS": str(opts.subscribers) if opts.census else "",
        }
        server = subs = None
        try:
            run([PY, "manage.py", "migrate", "-v", "0"], env)
            create = f"from chat.services import room_create\nfor slug in {rooms.split(',')!r}: room_create(slug=slug)"
            run([PY, "manage.py", "shell", "-c", create], env)
            if not opts.no_raw:
                print(f"== raw redis-py fan-out: {opts.subscribers} subscribers", flush=True)
                channels = ",".join(f"chat:room:{slug}" for slug in rooms.split(","))
                subs = Subscribers(["redis", redis_server.url, channels, "-", str(opts.subscribers)], env)
                results["raw redis-py"] = run_phases("raw", rooms, subs, env, opts, fanout_pid=redis_server.process.pid)
                subs.stop()
                subs = None
            for kind in servers:
                print(f"== chat over SSE: one {kind} process, {opts.subscribers} subscribers", flush=True)
                port = free_port()
                server = subprocess.Popen(SERVERS[kind](port), env=env, cwd=ROOT)
                base = f"http://127.0.0.1:{port}"
                wait_http(f"{base}/chat/")
                time.sleep(1.0)
                rss_before = rss_kb(server.pid)
                try:
                    subs = Subscribers(["sse", base, rooms, "0", str(opts.subscribers)], env)
                except SystemExit as exc:
                    print(f"   {kind}: {exc}", flush=True)
                    server.kill()
                    server.wait()
                    server = None
                    continue
                time.sleep(1.0)
                rss_after = rss_kb(server.pid)
                if opts.census and kind == "uvicorn-lean":
                    server.send_signal(signal.SIGUSR1)  # bench/census.py prints its census to stderr
                    time.sleep(max(3.0, opts.subscribers / 1000))  # it holds the server for seconds
                    print("   (a census run: the census and the collector's log perturb the latencies)", flush=True)
                tag = kind.replace("-", "")
                res = run_phases("service", rooms, subs, env, opts, fanout_pid=server.pid, run_tag=tag)
                res["kb_per_subscriber"] = (rss_after - rss_before) / opts.subscribers
                results[f"chat SSE, {kind}"] = res
                subs.stop()
                subs = None
                server.terminate()
                server.wait(timeout=20)
                server = None
                # A fresh start for the next server: every room's history is already long, readers start at the end.
        finally:
            if subs:
                subs.stop()
            if server:
                server.kill()
                server.wait()
            redis_server.stop()
    return results


def print_table(opts, results: dict[str, dict]) -> None:
    print()
    print(
        f"{'':34}{'deliveries/s':>13}{'p50 ms':>9}{'p99 ms':>9}{'delivered':>18}"
        f"{'send p99 ms':>12}{'CPU us/delivery':>16}{'KB/sub':>8}"
    )
    for label, res in results.items():
        for phase in ("rate", "flat"):
            if phase not in res:
                continue
            r = res[phase]
            name = f"{label}, {f'{opts.rate:g}/s' if phase == 'rate' else 'flat out'}"
            kb = f"{res['kb_per_subscriber']:.1f}" if "kb_per_subscriber" in res else "-"
            print(
                f"{name:34}{r['deliveries_per_s']:>13,.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
                f"{r['deliveries']:>9}/{r['expected']:<8}{r['call_p99_ms']:>12.1f}{r['fanout_cpu_us']:>16.1f}{kb:>8}"
            )


class BigRedis(RedisProcess):
    """The embedded server, allowing enough clients for the raw baseline's one connection per subscriber."""

    def command(self) -> list[str]:
        return [*super().command(), "--maxclients", "30000"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases (about a minute in all)")
    parser.add_argument("--tcp", action="store_true", help="Redis over TCP (default: the unix socket, as make run)")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--rooms", type=int, default=1, help="subscribers and messages spread over this many rooms")
    parser.add_argument(
        "--rate", type=float, default=100.0, help="messages per second (in all) in the fixed-rate phase"
    )
    parser.add_argument("--servers", default="uvicorn", help=f"comma-separated, of {', '.join(SERVERS)}")
    parser.add_argument("--no-flat", dest="flat", action="store_false", help="skip the flat-out phase")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw redis-py baseline")
    parser.add_argument("--curve", action="store_true", help="the cost curve: 100, 1,000 and 10,000 subscribers")
    parser.add_argument(
        "--census",
        action="store_true",
        help="uvicorn-lean: log the server's garbage collections over 20 ms and print its objects by type once"
        " every subscriber is connected (bench/census.py)",
    )
    parser.add_argument(
        "--profile", metavar="FILE", help="py-spy the server in the fixed-rate phase (collapsed stacks)"
    )
    opts = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the server and the subscribers
    seconds = 5 if opts.quick else 15
    opts.flat_count = 1000 if opts.quick else 3000
    servers = opts.servers.split(",")
    if not opts.curve:
        opts.rate_count = int(opts.rate * seconds)
        results = measure(opts, servers)
        print_table(opts, results)
        raw = results.get("raw redis-py")
        for label, res in results.items():
            if raw is None or label == "raw redis-py":
                continue
            complete = all(
                r[p]["deliveries"] == r[p]["expected"] for r in (raw, res) for p in res if p in ("rate", "flat")
            )
            flat = (
                f"flat-out deliveries/s {res['flat']['deliveries_per_s'] / raw['flat']['deliveries_per_s']:.2f}, "
                if "flat" in res
                else ""
            )
            p99_ratio = res["rate"]["p99_ms"] / raw["rate"]["p99_ms"]
            print(
                f"RATIOS {label}/raw: {flat}p99 at {opts.rate:g}/s {p99_ratio:.2f}x "
                f"({res['rate']['p99_ms']:.1f} ms vs {raw['rate']['p99_ms']:.1f} ms), "
                f"CPU/delivery {res['rate']['fanout_cpu_us']:.1f} us, {res['kb_per_subscriber']:.1f} KB/subscriber, "
                f"all delivered: {'yes' if complete else 'NO'}"
            )
        return
    # The cost curve: the three points, each with its raw baseline (none at 10,000: one
    # redis-py connection per subscriber in one client process is not a fair baseline there).
    opts.flat = False
    curve = []
    for subscribers, rooms, rate, raw_too in ((100, 1, 100.0, True), (1000, 1, 20.0, True), (10000, 100, 200.0, False)):
        opts.subscribers, opts.rooms, opts.rate, opts.no_raw = subscribers, rooms, rate, not raw_too
        opts.rate_count = int(rate * seconds)
        results = measure(opts, servers)
        print_table(opts, results)
        curve.append((subscribers, rooms, rate, results))
    print()
    print("COST CURVE (fixed rate; the load generator shares the 2 cores)")
    print(f"{'server':16} {'subscribers':>11} {'rooms':>5} {'msg/s':>6} {'deliveries/s':>12} {'SSE p99 ms':>10} "
          f"{'raw p99 ms':>10} {'CPU us/delivery':>15} {'KB/subscriber':>13}")  # fmt: skip
    for subscribers, rooms, rate, results in curve:
        raw = results.get("raw redis-py")
        raw_p99 = f"{raw['rate']['p99_ms']:.1f}" if raw else "-"
        for kind in servers:
            sse = results.get(f"chat SSE, {kind}")
            if sse is None:
                print(f"{kind:16} {subscribers:>11,} failed (see above)")
                continue
            print(
                f"{kind:16} {subscribers:>11,} {rooms:>5} {rate:>6g} {subscribers // rooms * rate:>12,.0f} "
                f"{sse['rate']['p99_ms']:>10.1f} {raw_p99:>10} {sse['rate']['fanout_cpu_us']:>15.1f} "
                f"{sse['kb_per_subscriber']:>13.1f}"
            )


if __name__ == "__main__":
    main()
