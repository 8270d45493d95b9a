"""The soak's multi-node mode (``--nodes N``, ``--sentinel``): the site as a scaled-out deployment runs it.

N web nodes, each its own ``uvicorn config.asgi:application`` process on its own port; the jobs workers
(JobsConfig.background_processes) on every node; one ``rqcron jobs.cron`` for the whole site (rq's cron takes
no lock: docs/operations.md); one database (PostgreSQL with DATABASE_POOL=1 on the web nodes, or SQLite) and
one Redis shared by all. With ``--sentinel`` that Redis is a master, a replica and three sentinels on
loopback (tests/sentinel.py, the embedded server binary in sentinel mode), REDIS_URL=redis+sentinel://...,
and the fault is the master's SIGKILL: the sentinels promote the replica, every client follows, and later
the old master comes back empty (no append-only file) and the sentinels make it a replica of the new one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

from processes import stop_process_groups
from soak_site import ROOT, Site

from switchboard.connections import redis_client
from switchboard.embedded_redis import RedisProcess, free_port
from tests.sentinel import SentinelSet


class SentinelRedis:
    """The site's Redis as a Sentinel set, with what Site uses of a RedisProcess (url, start, stop)."""

    def __init__(self, base) -> None:
        self.set = SentinelSet(base=base)

    @property
    def url(self) -> str:
        return self.set.url

    def start(self) -> None:
        self.set.start()

    def stop(self) -> None:
        self.set.stop()

    def restart(self, *, down_for: float = 0.0) -> None:
        raise RuntimeError("--sentinel injects the 'master' fault (a failover), not a restart of one server")


class NodesSite(Site):
    """Site with ``nodes`` web nodes and their workers, one rqcron, and (``sentinel``) a Sentinel set."""

    def __init__(self, *, nodes: int, sentinel: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self.nodes, self.sentinel = nodes, sentinel
        if sentinel:
            self.redis = SentinelRedis(self.workdir / "sentinel")
        self.ports = [self.port, *(free_port() for _ in range(nodes - 1))]
        self.webs: list[subprocess.Popen | None] = [None] * nodes

    def web_env(self) -> dict[str, str]:
        env = self.env()
        if self.db == "postgres":  # as a deployment on PostgreSQL runs its web processes
            env.update(DATABASE_POOL="1", DATABASE_POOL_MAX_SIZE="10")
        return env

    def jobs_processes(self, prepared: dict) -> tuple[list[tuple[str, list[str]]], list[str]]:
        """Every node runs the workers one node would (named ``node<n>-worker-<queue>-<i>``); rqcron once."""
        workers, cron = super().jobs_processes(prepared)
        return [(f"node{n + 1}-{name}", argv) for n in range(self.nodes) for name, argv in workers], cron

    # -- web nodes -----------------------------------------------------------------------------------
    def start_web(self) -> None:
        for index in range(self.nodes):
            self.start_node(index)

    def start_node(self, index: int) -> None:
        port = self.ports[index]
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(self.web_workers), "--timeout-graceful-shutdown", "3", "--log-level", "warning",
             "--no-access-log"],
            env=self.web_env(), cwd=ROOT, stdout=self._log(f"web{index + 1}"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.webs[index] = proc
        if index == 0:
            self.web = proc  # the node whose uvicorn worker the 'web' fault kills
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"uvicorn of node {index + 1} exited at start; see {self.logs}/web{index + 1}.log")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as answer:  # loopback only
                    if answer.status == 200:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {index + 1} did not answer on port {port} within 60 s")
            time.sleep(0.2)

    def health(self) -> tuple[int, dict]:
        """GET /health on every node: the first unhealthy answer, else node 1's."""
        answers = []
        for index, port in enumerate(self.ports):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:  # loopback
                    answers.append((answer.status, json.loads(answer.read())))
            except urllib.error.HTTPError as exc:
                answers.append((exc.code, {"node": index + 1, **json.loads(exc.read() or b"{}")}))
            except (OSError, ValueError) as exc:
                answers.append((0, {"node": index + 1, "error": str(exc)}))
        return next((a for a in answers if a[0] != 200), answers[0])

    def check_processes(self) -> None:
        web, self.web = self.web, None  # the web nodes are checked below, each restarted alone
        try:
            super().check_processes()
        finally:
            self.web = web
        for index, proc in enumerate(self.webs):
            if proc is not None and proc.poll() is not None:
                self.unexpected_exits.append(("web", f"node {index + 1}'s uvicorn exited with code {proc.returncode}"))
                self.start_node(index)

    def stop(self) -> None:
        stop_process_groups([proc for proc in self.webs[1:] if proc is not None], timeout=10)
        super().stop()

    # -- the Sentinel fault --------------------------------------------------------------------------
    def kill_master(self) -> RedisProcess:
        """SIGKILL the Redis master (as a crash of its machine); returns its process, to bring it back later."""
        return self.redis.set.kill_master()

    def first_redis_write(self, since: float, *, timeout: float = 60.0) -> float:
        """Seconds from ``since`` until a write through the Sentinel URL succeeds (the new master answers)."""
        client = redis_client(self.redis.url, socket_connect_timeout=1, socket_timeout=1)
        try:
            while True:
                try:
                    client.set("soak:failover-probe", "ok")
                    return time.monotonic() - since
                except Exception:
                    if time.monotonic() - since > timeout:
                        raise RuntimeError(f"no Redis write succeeded within {timeout} s of the kill") from None
                    time.sleep(0.05)
        finally:
            client.close()

    def wait_failover(self, *, timeout: float = 60.0) -> None:
        self.redis.set.wait_failover(timeout=timeout)

    def master_back_as_replica(self, old: RedisProcess, *, timeout: float = 60.0) -> float:
        """Start the old master again (empty: no append-only file) on its port; the sentinels make it a replica
        of the new master. Returns the seconds until it replicates (link up)."""
        started = time.monotonic()
        cluster = self.redis.set
        old.start()
        cluster.master, cluster.replica = cluster.replica, old
        cluster.wait_for(cluster.replica_linked, "the old master to replicate the new one", timeout)
        return time.monotonic() - started
