"""The site as shipped: a clean copy of the working tree started exactly as ``make run`` starts it.

``manage.py run_site`` with no REDIS_URL and no DATABASE_URL: SQLite and the embedded Redis on its unix
socket, both in a temporary SWITCHBOARD_DATA_DIR. Used by tests/site/test_shipped.py and the browser tests.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from switchboard.embedded_redis import free_port

ROOT = Path(__file__).resolve().parent.parent
# What a test run may set that `make run` never has.
FOREIGN_ENV = ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "SWITCHBOARD_DATA_DIR",
               "DJANGO_ALLOW_ASYNC_UNSAFE")  # fmt: skip


def clean_copy(destination: Path) -> Path:
    """The working tree's files as git sees them (tracked and new, not ignored ones), copied to ``destination``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children...), from /proc."""
    found: list[int] = []
    stack = [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except FileNotFoundError:
                continue
            found += children
            stack += children
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent does not count)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except FileNotFoundError:
        return ""


class ShippedSite:
    """``python manage.py run_site --port N`` in a clean copy, with the environment of a fresh shell."""

    def __init__(self, workdir: Path, *, extra_env: dict[str, str] | None = None, copy: bool = True) -> None:
        self.workdir = workdir
        self.tree = clean_copy(workdir / "switchboard") if copy else ROOT
        self.data_dir = workdir / "data"
        self.log_path = workdir / "run_site.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in FOREIGN_ENV and (not k.startswith("SWITCHBOARD_") or k == "SWITCHBOARD_REDIS_SERVER")
        }
        self.env.update(SWITCHBOARD_DATA_DIR=str(self.data_dir), PYTHONUNBUFFERED="1", **(extra_env or {}))
        self.process: subprocess.Popen | None = None
        self.children_seen: set[int] = set()

    @property
    def redis_url(self) -> str:
        """The embedded Redis, as the site's default settings name it."""
        return f"unix://{self.data_dir / 'redis.sock'}?db=0"

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """``python manage.py args`` in the copy, with the site's environment (same database and Redis)."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.tree, env=self.env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def start(self, *, timeout: float = 120) -> ShippedSite:
        """Start run_site (migrate, demo data, Redis, workers, rqcron, uvicorn); return once /health is 200."""
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_site", "--port", str(self.port)],
                cwd=self.tree, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"run_site exited with {self.process.returncode}:\n{self.log()}")
            self.children_seen.update(descendants(self.process.pid))
            try:
                answer = httpx.get(f"{self.url}/health", timeout=5)
                last = f"{answer.status_code} {answer.text[:600]}"
                if answer.status_code == 200:
                    return self
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.5)
        raise RuntimeError(f"the site did not report healthy within {timeout} s (last: {last}):\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_problems(self) -> list[str]:
        """Lines of the whole log that show a traceback or an ERROR."""
        return [line for line in self.log().splitlines() if "Traceback" in line or re.search(r"\bERROR\b", line)]

    def interrupt(self, *, timeout: float = 30) -> int:
        """Ctrl-C: SIGINT to run_site's process group, as a terminal sends it; returns run_site's exit code."""
        assert self.process is not None
        self.children_seen.update(descendants(self.process.pid))
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=timeout)

    def left_running(self) -> list[str]:
        """Processes run_site started (seen while it ran) that still run after it exited."""
        return [f"{pid} {cmdline(pid)}" for pid in sorted(self.children_seen) if alive(pid)]

    def stop(self) -> None:
        """Clean up whatever is still running (after a failed test): the group, then every child seen."""
        if self.process is not None and self.process.poll() is None:
            self.children_seen.update(descendants(self.process.pid))
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for pid in self.children_seen:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


class Visitor:
    """One user's browser-like HTTP session: logs in through the real form and sends the CSRF token."""

    def __init__(self, site_url: str) -> None:
        self.client = httpx.Client(base_url=site_url, timeout=30, follow_redirects=False)

    def login(self, username: str, password: str) -> Visitor:
        self.client.get("/accounts/login/")
        answer = self.client.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": self.csrf},
            headers={"Referer": f"{self.client.base_url}accounts/login/"},
        )
        assert answer.status_code == 302, f"login of {username} failed: {answer.status_code} {answer.text[:300]}"
        return self

    @property
    def csrf(self) -> str:
        return self.client.cookies.get("csrftoken", "")

    def post_json(self, path: str, body) -> httpx.Response:
        return self.client.post(
            path, json=body, headers={"X-CSRFToken": self.csrf, "Referer": f"{self.client.base_url}"}
        )

    def close(self) -> None:
        self.client.close()
