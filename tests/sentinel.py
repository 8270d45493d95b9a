"""A Redis Sentinel set on loopback for tests: one master, one replica and three sentinels on free ports.

The embedded server binary (valkey-server) runs as a sentinel with ``--sentinel`` and a config file it may
rewrite. ``SentinelSet.url`` is the ``redis+sentinel://`` REDIS_URL of the set.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import redis

from switchboard.embedded_redis import RedisProcess

SERVICE = "sbmaster"


class SentinelProcess(RedisProcess):
    """A redis-server in sentinel mode watching ``master_port``."""

    def __init__(self, *, data_dir: Path, master_port: int, password: str | None, quorum: int = 2) -> None:
        super().__init__(data_dir=data_dir, tcp=True)
        self.master_port, self.password, self.quorum = master_port, password, quorum

    def command(self) -> list[str]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "sentinel.conf"
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            "protected-mode no",
            f"dir {self.data_dir}",
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.master_port} {self.quorum}",
            f"sentinel down-after-milliseconds {SERVICE} 1000",
            f"sentinel failover-timeout {SERVICE} 4000",
            f"sentinel parallel-syncs {SERVICE} 1",
        ]
        if self.password:
            lines.append(f"sentinel auth-pass {SERVICE} {self.password}")
        conf.write_text("\n".join(lines) + "\n")
        return [self.binary or super().command()[0], str(conf), "--sentinel"]

    @property
    def ping_options(self) -> dict:
        return {}


class SentinelSet:
    """One master, one replica, three sentinels; ``url`` names them all, ``kill_master`` crashes the master."""

    def __init__(self, *, password: str | None = None, db: int = 0, base: Path | None = None) -> None:
        self.base = Path(base or tempfile.mkdtemp(prefix="sb-sentinel-"))
        self.password, self.db = password, db
        auth = ["--requirepass", password, "--masterauth", password] if password else []
        self.master = RedisProcess(data_dir=self.base / "master", tcp=True, prefer="tcp", extra_args=auth)
        self.replica = RedisProcess(
            data_dir=self.base / "replica",
            tcp=True,
            prefer="tcp",
            extra_args=[*auth, "--replicaof", "127.0.0.1", str(self.master.port)],
        )
        self.sentinels = [
            SentinelProcess(data_dir=self.base / f"sentinel{i}", master_port=self.master.port, password=password)
            for i in range(3)
        ]

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{auth}{hosts}/{SERVICE}/{self.db}"

    def start(self) -> SentinelSet:
        self.master.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        self.wait_for(lambda: self.replica_linked() and self.sentinels_agree(self.master.port), "the set to form")
        return self

    def master_port(self, sentinel: SentinelProcess) -> int | None:
        try:
            with redis.Redis(port=sentinel.port, socket_timeout=1) as client:
                address = client.sentinel_get_master_addr_by_name(SERVICE)
        except redis.RedisError:
            return None
        return int(address[1]) if address else None

    def sentinels_agree(self, port: int) -> bool:
        """Every sentinel names ``port`` as the master and knows the other sentinels."""
        for sentinel in self.sentinels:
            if self.master_port(sentinel) != port:
                return False
            with redis.Redis(port=sentinel.port, socket_timeout=1) as client:
                if len(client.sentinel_sentinels(SERVICE)) < len(self.sentinels) - 1:
                    return False
        return True

    def replica_linked(self) -> bool:
        with redis.Redis(port=self.replica.port, password=self.password, socket_timeout=1) as client:
            return client.info("replication").get("master_link_status") == "up"

    def wait_for(self, condition, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def kill_master(self) -> RedisProcess:
        """SIGKILL the current master; the replica is promoted once the sentinels agree (wait_failover)."""
        self.master.kill()
        return self.master

    def wait_failover(self, timeout: float = 30.0) -> None:
        self.wait_for(lambda: self.sentinels_agree(self.replica.port), "the sentinels to promote the replica", timeout)

    def stop(self) -> None:
        for process in [*self.sentinels, self.replica, self.master]:
            process.stop()
