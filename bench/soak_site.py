"""The site under test as separate processes the soak can kill: Redis (AOF), rq workers, uvicorn workers.

It starts what `make run` (manage.py run_site) starts, but as processes of its own so that the faults can
be injected: a private redis-server with an append-only file (a restart keeps the data), N
``manage.py rqworker high default low --with-scheduler`` processes and ``uvicorn --workers N``, on a
SQLite file in a temporary directory or a PostgreSQL database created for the run and dropped after it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from switchboard.embedded_redis import RedisProcess, free_port  # noqa: E402

PG_ADMIN_URL = os.environ.get("SOAK_PG_URL", "postgres://postgres@127.0.0.1:5432")
RQ_WORKER_ARGS = ["rqworker", "high", "default", "low", "--with-scheduler"]


def children_of(pid: int) -> list[int]:
    """Direct child process ids of ``pid`` (Linux /proc)."""
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        for task in task_dir.iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


class Site:
    """The processes of one soak run, their environment, logs, and the faults that can be injected."""

    def __init__(self, *, db: str, web_workers: int, rq_workers: int, keep: bool = False) -> None:
        self.db, self.web_workers, self.rq_workers, self.keep = db, web_workers, rq_workers, keep
        self.workdir = Path(tempfile.mkdtemp(prefix="switchboard-soak-"))
        self.logs = self.workdir / "logs"
        self.logs.mkdir()
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.redis = RedisProcess(data_dir=self.workdir / "redis", persist=True, log_file=self.logs / "redis.log")
        self.pg_name = f"switchboard_soak_{os.getpid()}"
        self.database_url = (
            f"{PG_ADMIN_URL}/{self.pg_name}" if db == "postgres" else f"sqlite:///{self.workdir / 'db.sqlite3'}"
        )
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen | None] = [None] * rq_workers
        self.unexpected_exits: list[str] = []
        self.killing: set[int] = set()  # rq worker indexes being killed and restarted on purpose
        self._open_logs: list = []

    # -- environment and lifecycle -------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = os.environ.copy()
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis.url,
            SWITCHBOARD_DATA_DIR=str(self.workdir / "data"),
            DJANGO_SETTINGS_MODULE="config.settings",
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            DEBUG="1",
            LOG_LEVEL=os.environ.get("SOAK_LOG_LEVEL", "WARNING"),
            RQ_LOG_LEVEL=os.environ.get("SOAK_RQ_LOG_LEVEL", "WARNING"),
        )
        return env

    def manage(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``manage.py args`` against the soak's database and Redis."""
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result

    def _log(self, name: str):
        handle = open(self.logs / f"{name}.log", "ab")
        self._open_logs.append(handle)
        return handle

    def start(self) -> None:
        """Redis, the database (migrate + demo_setup), the rq workers and uvicorn; returns once / answers."""
        self.redis.start()
        if self.db == "postgres":
            self._psql(f'DROP DATABASE IF EXISTS "{self.pg_name}"')
            self._psql(f'CREATE DATABASE "{self.pg_name}"')
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("demo_setup")
        for index in range(self.rq_workers):
            self.start_rq_worker(index)
        self.start_web()

    def start_rq_worker(self, index: int) -> None:
        self.workers[index] = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *RQ_WORKER_ARGS],
            env=self.env(),
            cwd=ROOT,
            stdout=self._log(f"rq-{index}"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_web(self) -> None:
        self.web = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(self.web_workers), "--timeout-graceful-shutdown", "3",
             "--log-level", "warning", "--no-access-log"],
            env=self.env(),
            cwd=ROOT,
            stdout=self._log("web"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            if self.web.poll() is not None:
                raise RuntimeError(f"uvicorn exited at start; see {self.logs / 'web.log'}")
            try:
                with urllib.request.urlopen(self.base_url + "/", timeout=2) as answer:  # loopback only
                    if answer.status == 200 and len(self.web_worker_pids()) == self.web_workers:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the site did not answer on {self.base_url} within 60 s")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop every process (TERM, then KILL), drop the PostgreSQL database, remove the work directory."""
        procs = [p for p in [self.web, *self.workers] if p is not None]
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.redis.stop()
        for handle in self._open_logs:
            handle.close()
        if self.db == "postgres":
            self._psql(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _psql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def check_processes(self) -> None:
        """Note (and restart) any rq worker or the web server that exited without being told to."""
        for index, proc in enumerate(self.workers):
            if index not in self.killing and proc is not None and proc.poll() is not None:
                self.unexpected_exits.append(f"rq worker {index} exited with code {proc.returncode}")
                self.start_rq_worker(index)
        if self.web is not None and self.web.poll() is not None:
            self.unexpected_exits.append(f"uvicorn exited with code {self.web.returncode}")
            self.start_web()

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # -- faults --------------------------------------------------------------------------------------
    def web_worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children of the supervisor, not multiprocessing's helpers)."""
        if self.web is None:
            return []
        return [pid for pid in children_of(self.web.pid) if "resource_tracker" not in cmdline(pid)]

    def kill_web_worker(self, *, timeout: float = 30.0) -> float:
        """SIGKILL one uvicorn worker; returns the seconds until the supervisor has replaced it."""
        pids = self.web_worker_pids()
        if not pids:
            raise RuntimeError("no uvicorn worker process found to kill")
        victim = pids[0]
        started = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        while time.monotonic() - started < timeout:
            current = self.web_worker_pids()
            if victim not in current and len(current) == self.web_workers:
                return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"uvicorn did not replace the killed worker {victim} within {timeout} s")

    def rq_worker_states(self) -> dict[int, str]:
        """pid -> current job id ('' when idle) of each rq worker registered in Redis."""
        client = redis.Redis.from_url(self.redis.url, socket_timeout=2)
        states = {}
        try:
            for key in client.smembers("rq:workers"):
                data = client.hgetall(key)
                pid = int(data.get(b"pid", b"0") or 0)
                states[pid] = (data.get(b"current_job") or b"").decode()
        finally:
            client.close()
        return states

    def kill_rq_worker(self, *, prefer_busy: bool = True, avoid_jobs: set[str] = frozenset(), down_for: float = 1.0):
        """SIGKILL one rq worker's whole process group (worker and work horse), then start it again.

        Picks a worker that is in the middle of a job (not one of ``avoid_jobs``) when there is one, so the
        kill lands mid-job. Returns (worker index, the job id it was running or '').
        """
        states = self.rq_worker_states()
        candidates = []
        for index, proc in enumerate(self.workers):
            if proc is None or proc.poll() is not None:
                continue
            job = states.get(proc.pid, "")
            if job in avoid_jobs:
                continue
            candidates.append((bool(job) if prefer_busy else True, index, job))
        if not candidates:
            candidates = [(False, 0, states.get(self.workers[0].pid, "") if self.workers[0] else "")]
        candidates.sort(reverse=True)
        _, index, job = candidates[0]
        proc = self.workers[index]
        assert proc is not None
        self.killing.add(index)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            time.sleep(down_for)
            self.start_rq_worker(index)
        finally:
            self.killing.discard(index)
        return index, job

    def restart_redis(self, *, down_for: float = 1.0) -> float:
        """Stop Redis (it writes its AOF), stay down ``down_for`` s, start it on the same port; returns the time."""
        started = time.monotonic()
        self.redis.restart(down_for=down_for)
        return time.monotonic() - started

    # -- the Django side (bench/soak_db.py in a child process) ---------------------------------------
    def django_side(self, command: str, spec: dict) -> dict:
        """Run ``bench/soak_db.py command spec`` with the site's environment; returns its JSON answer."""
        import json

        result = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "soak_db.py"), command, json.dumps(spec)],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"soak_db.py {command} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def inspect_ledger(self) -> dict:
        return self.django_side("inspect", {})
