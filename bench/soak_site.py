"""The site under test as separate processes the soak can kill: Redis (AOF), rq workers, uvicorn workers.

It starts what `make run` (manage.py run_site) starts, but as processes of its own so that the faults can
be injected: a private redis-server with an append-only file (a restart keeps the data), the jobs app's
background processes as run_site gets them from ``JobsConfig.background_processes`` (``manage.py jobs_worker
<queue> --with-scheduler``, N per queue of JOBS_WORKER_QUEUES, and ``manage.py rqcron jobs.cron``) and
``uvicorn --workers N``, on a SQLite file in a temporary directory or a PostgreSQL database created for the
run and dropped after it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from switchboard.connections import redis_client  # noqa: E402
from switchboard.embedded_redis import RedisProcess, free_port  # noqa: E402

PG_ADMIN_URL = os.environ.get("SOAK_PG_URL", "postgres://postgres@127.0.0.1:5432")


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


def descendants_of(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...)."""
    found: list[int] = []
    for child in children_of(pid):
        found += [child, *descendants_of(child)]
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


class Site:
    """The processes of one soak run, their environment, logs, and the faults that can be injected."""

    def __init__(
        self, *, db: str, web_workers: int, rq_workers: int, worker_options: list[str] = (), keep: bool = False
    ) -> None:
        self.db, self.web_workers, self.rq_workers, self.keep = db, web_workers, rq_workers, keep
        self.worker_options = list(worker_options)
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
        self.worker_specs: list[tuple[str, list[str]]] = []  # (name, argv) of each rq worker, set by start()
        self.workers: list[subprocess.Popen | None] = []
        self.cron: subprocess.Popen | None = None
        self.unexpected_exits: list[tuple[str, str]] = []  # (kind "worker" or "web", what happened)
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
            # Every soak client comes from 127.0.0.1: the per-client cap on open long-polls and SSE
            # streams (meant for one browser or script) would otherwise refuse the 1,200 of them.
            MAX_STREAMS_PER_CLIENT="100000",
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
        # migrate, demo_setup, and the jobs app's background processes (what run_site would start)
        spec = {"python": sys.executable, "manage": str(ROOT / "manage.py"), "rq_workers": self.rq_workers}
        self.worker_specs, cron_argv = self.jobs_processes(self.django_side("prepare", spec))
        self.workers = [None] * len(self.worker_specs)
        for index in range(len(self.worker_specs)):
            self.start_rq_worker(index)
        self.cron = subprocess.Popen(
            cron_argv,
            env=self.env(),
            cwd=ROOT,
            stdout=self._log("cron"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.start_web()
        status, report = self.wait_healthy(timeout=60)
        if status != 200:
            raise RuntimeError(f"the site did not report healthy within 60 s: GET /health gave {status} {report}")

    def health(self) -> tuple[int, dict]:
        """GET /health: (status, report); (0, {"error": ...}) when the site does not answer."""
        try:
            with urllib.request.urlopen(self.base_url + "/health", timeout=5) as answer:  # loopback only
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except (OSError, ValueError) as exc:
            return 0, {"error": str(exc)}

    def wait_healthy(self, *, timeout: float) -> tuple[int, dict]:
        """Poll GET /health until it answers 200 or ``timeout`` s pass; the last (status, report)."""
        deadline = time.monotonic() + timeout
        while True:
            status, report = self.health()
            if status == 200 or time.monotonic() > deadline:
                return status, report
            time.sleep(0.5)

    def jobs_processes(self, prepared: dict) -> tuple[list[tuple[str, list[str]]], list[str]]:
        """The rq workers (``worker_options`` added) and rqcron's argv from the jobs app's background processes."""
        processes = dict(prepared["background_processes"])
        unknown = [name for name in processes if name != "cron" and not name.startswith("worker-")]
        if "cron" not in processes or unknown:
            raise RuntimeError(
                f"JobsConfig.background_processes gave {list(processes)}; the soak knows 'worker-<queue>-<n>' and "
                "'cron': teach bench/soak_site.py how to run and check the others."
            )
        cron = processes.pop("cron")
        return [(name, [*argv, *self.worker_options]) for name, argv in processes.items()], cron

    def start_rq_worker(self, index: int) -> None:
        name, argv = self.worker_specs[index]
        self.workers[index] = subprocess.Popen(
            argv,
            env=self.env(),
            cwd=ROOT,
            stdout=self._log(name),
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
        procs = [p for p in [self.web, self.cron, *self.workers] if p is not None]
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
                self.unexpected_exits.append(
                    ("worker", f"{self.worker_specs[index][0]} exited with code {proc.returncode}")
                )
                self.start_rq_worker(index)
        if self.cron is not None and self.cron.poll() is not None:
            self.unexpected_exits.append(("worker", f"rqcron exited with code {self.cron.returncode}"))
            self.cron = None
        if self.web is not None and self.web.poll() is not None:
            self.unexpected_exits.append(("web", f"uvicorn exited with code {self.web.returncode}"))
            self.start_web()

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def redis_client(self) -> redis.Redis:
        """A client of the site's Redis (its master, behind Sentinel) for the soak's own inspections."""
        return redis_client(self.redis.url, socket_timeout=2)

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
        client = self.redis_client()
        states = {}
        try:
            for key in client.smembers("rq:workers"):
                data = client.hgetall(key)
                pid = int(data.get(b"pid", b"0") or 0)
                states[pid] = (data.get(b"current_job") or b"").decode()
        finally:
            client.close()
        return states

    def rq_whereabouts(self, job_ids: list[str]) -> dict[str, list[str]]:
        """job id -> the rq lists and registries holding it (queue, intermediate list, started, scheduled...),
        plus "workers" -> each registered rq worker's state; for the report of jobs that did not settle."""
        client = self.redis_client()
        found: dict[str, list[str]] = {job_id: [] for job_id in job_ids}
        try:
            for key in sorted(k.decode() for k in client.scan_iter("rq:*")):
                kind = client.type(key).decode()
                if kind == "list":
                    members = {m.decode() for m in client.lrange(key, 0, -1)}
                elif kind == "zset":
                    members = {m.decode().split(":")[0] for m in client.zrange(key, 0, -1)}
                else:
                    continue
                for job_id in job_ids:
                    if job_id in members:
                        found[job_id].append(key)
            workers = []
            for key in client.smembers("rq:workers"):
                data = client.hgetall(key)
                workers.append(f"{key.decode()[len('rq:worker:'):]} {(data.get(b'state') or b'?').decode()} "
                               f"{(data.get(b'current_job') or b'').decode()[:8]}".strip())  # fmt: skip
            found["workers"] = sorted(workers)
        except redis.RedisError as exc:
            found["error"] = [repr(exc)]
        finally:
            client.close()
        return found

    def kill_rq_worker(
        self,
        *,
        prefer_busy: bool = True,
        avoid_jobs: set[str] = frozenset(),
        queue: str = "default",
        down_for: float = 1.0,
        wait_busy: float = 5.0,
    ):
        """SIGKILL one rq worker with every process under it (its work horse, which rq puts in a session of
        its own, and its scheduler), as a crash of its machine would, then start it again.

        Picks a worker that is in the middle of a job (not one of ``avoid_jobs``) when there is one, so the
        kill lands mid-job, else one of ``queue``. Returns (worker name, the job id it was running or '').
        """
        deadline = time.monotonic() + wait_busy
        while True:  # wait (bounded) for a worker in the middle of a job, so that the kill lands mid-job
            states = self.rq_worker_states()
            busy = [job for job in states.values() if job and job not in avoid_jobs]
            if busy or not prefer_busy or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        candidates = []
        for index, proc in enumerate(self.workers):
            if proc is None or proc.poll() is not None:
                continue
            # a pool's jobs run in its work processes, each a registered rq worker of its own
            job = next((states[pid] for pid in [proc.pid, *descendants_of(proc.pid)] if states.get(pid)), "")
            if job in avoid_jobs:
                continue
            on_queue = self.worker_specs[index][0].startswith(f"worker-{queue}-")
            candidates.append((bool(job) if prefer_busy else True, on_queue, -index, job))
        if not candidates:
            raise RuntimeError("no rq worker to kill: every one is running an avoided job or has exited")
        candidates.sort(reverse=True)
        _, _, index, job = candidates[0]
        index = -index
        proc = self.workers[index]
        assert proc is not None
        self.killing.add(index)
        try:
            for pid in [proc.pid, *descendants_of(proc.pid)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            proc.wait()
            time.sleep(down_for)
            self.start_rq_worker(index)
        finally:
            self.killing.discard(index)
        return self.worker_specs[index][0], job

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
