"""Every Redis client the project makes works with every REDIS_URL form a user may give.

unix:///path and unix:///path?db=N, redis://host:port/N, a password (redis://:pw@host, redis://user:pw@host)
rediss:// (TLS, against a redis-server started with TLS on loopback with a certificate made here) and
redis+sentinel:// (a master with a password, its replica and three sentinels, tests/sentinel.py).
Each form is tried on: redis_sync/redis_async, the subscription hub, an rq queue and worker (django-rq's
RQ_QUEUES as the site builds them), the django-redis cache (the site's CACHES), and the rate limits.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path

import django_rq
import pytest
from django_redis.cache import RedisCache
from rq import SimpleWorker

from jobs.flusher import HistoryFlusher
from switchboard.connections import cache_config, redis_async, redis_client, redis_options, redis_sync, rq_queue_config
from switchboard.embedded_redis import RedisProcess, free_port, redis_server_binary
from switchboard.hub import Hub, Message
from switchboard.limits import rate_limit_hit
from tests.sentinel import SentinelSet

PASSWORD = "s3cret-pw"
ACL_USER, ACL_PASSWORD = "sbuser", "sbuser-pw"


def start_tls_server(base: Path, port: int, cert_dir: Path) -> RedisProcess:
    """A redis-server with TLS on ``port``: the embedded binary if it is built with TLS, else the one on PATH."""
    tls_args = ["--tls-port", str(port), "--tls-cert-file", str(cert_dir / "cert.pem"),
                "--tls-key-file", str(cert_dir / "key.pem"), "--tls-ca-cert-file", str(cert_dir / "cert.pem"),
                "--tls-auth-clients", "no"]  # fmt: skip
    tried = []
    for binary in dict.fromkeys(filter(None, [redis_server_binary(), shutil.which("redis-server")])):
        server = RedisProcess(data_dir=base / "tls-data", unix_socket=base / "tls.sock", binary=binary,
                              extra_args=tls_args)  # fmt: skip
        try:
            return server.start()
        except RuntimeError as exc:
            tried.append(f"{binary}: {str(exc)[-200:]}")
    pytest.fail(
        "No redis-server built with TLS here, so rediss:// cannot be tested; apt-get install redis-server "
        "(Debian's is built with TLS). Tried: " + "; ".join(tried)
    )


@pytest.fixture(scope="module")
def servers():
    """Servers of this module's own (it writes to several databases and empties an rq queue): a plain one and a
    password one (requirepass + an ACL user), each on TCP and a socket, and a TLS server."""
    base = Path(tempfile.mkdtemp(prefix="sb-conn-"))
    plain = RedisProcess(data_dir=base / "plain", unix_socket=base / "plain.sock", tcp=True).start()
    secured = RedisProcess(
        data_dir=base / "pw",
        unix_socket=base / "pw.sock",
        tcp=True,
        extra_args=["--requirepass", PASSWORD, "--user", ACL_USER, "on", f">{ACL_PASSWORD}", "~*", "&*", "+@all"],
    ).start()
    tls_dir = base / "tls"
    tls_dir.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(tls_dir / "key.pem"),
         "-out", str(tls_dir / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    tls_port = free_port()
    tls = start_tls_server(base, tls_port, tls_dir)
    sentinel = SentinelSet(password=PASSWORD, db=8, base=base / "sentinel").start()
    yield {
        "sentinel_url": sentinel.url,
        "plain": plain,
        "secured": secured,
        "tls_url": f"rediss://127.0.0.1:{tls_port}/4?ssl_ca_certs={tls_dir / 'cert.pem'}",
    }
    plain.stop()
    secured.stop()
    tls.stop()
    sentinel.stop()


def url_for(form: str, *, servers) -> str:
    plain, secured = servers["plain"], servers["secured"]
    unix = f"unix://{plain.unix_socket}"
    return {
        "unix": unix,
        "unix-db": f"{unix}?db=3",
        "tcp-db": f"redis://127.0.0.1:{plain.port}/5",
        "tcp-password": f"redis://:{PASSWORD}@127.0.0.1:{secured.port}/2",
        "tcp-user-password": f"redis://{ACL_USER}:{ACL_PASSWORD}@127.0.0.1:{secured.port}/6",
        "unix-password": f"unix://:{PASSWORD}@{secured.unix_socket}?db=7",
        "tls": servers["tls_url"],
        "sentinel-password": servers["sentinel_url"],
    }[form]


EXPECTED_DB = {"unix": 0, "unix-db": 3, "tcp-db": 5, "tcp-password": 2, "tcp-user-password": 6, "unix-password": 7,
               "tls": 4, "sentinel-password": 8}  # fmt: skip
FORMS = list(EXPECTED_DB)


@pytest.fixture(params=FORMS)
def url(request, settings, servers):
    value = url_for(request.param, servers=servers)
    settings.REDIS_URL = value
    settings.RQ_QUEUES = {name: rq_queue_config(value, DEFAULT_TIMEOUT=60) for name in ("high", "default", "low")}
    request.node.expected_db = EXPECTED_DB[request.param]
    return value


def test_options_a_connection_class_does_not_take_are_not_passed():
    keep = {"socket_keepalive": True, "ssl_ca_certs": "/x.pem", "socket_connect_timeout": 1}
    assert redis_options("unix:///tmp/r.sock", **keep) == {"socket_connect_timeout": 1}
    assert redis_options("redis://h:1/0", **keep) == {"socket_keepalive": True, "socket_connect_timeout": 1}
    assert redis_options("rediss://h:1/0", **keep) == keep


def test_sync_and_async_clients_reach_the_right_database(url, request):
    client = redis_sync()
    assert client.ping()
    assert client.client_info()["db"] == request.node.expected_db
    client.set("sb-conn-form", "ok")
    assert redis_client(url).get("sb-conn-form") == b"ok"
    client.delete("sb-conn-form")

    async def ping_async():
        return await redis_async().ping()

    assert asyncio.run(ping_async())


def test_the_hub_subscribes_and_receives(url):
    async def scenario():
        hub = Hub(url, connect_timeout=3)
        try:
            async with hub.subscribe("sb-conn:hub") as sub:
                assert sub.ready
                assert hub.connected
                assert redis_client(url).publish("sb-conn:hub", b"hi") == 1
                assert await sub.get(timeout=5) == Message("sb-conn:hub", b"hi")
        finally:
            await hub.close()

    asyncio.run(scenario())


def test_an_rq_queue_of_the_site_config_runs_a_job(url, request):
    queue = django_rq.get_queue("default")
    assert queue.connection.client_info()["db"] == request.node.expected_db
    queue.empty()
    job = queue.enqueue("builtins.len", "abc")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert job.return_value(refresh=True) == 3


def test_the_site_cache_config_works(url, settings, request):
    options = {**settings.CACHES["default"], **cache_config(url)}
    cache = RedisCache(options["LOCATION"], options)
    cache.set("sb-conn-cache", {"n": 1}, 30)
    assert cache.get("sb-conn-cache") == {"n": 1}
    assert cache.client.get_client().client_info()["db"] == request.node.expected_db
    cache.delete("sb-conn-cache")


def test_rate_limits_count_over_every_form(url):
    results = [rate_limit_hit(scope="conn-form", ident=url, limit=2, window=30) for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, False]


def test_the_history_flusher_rebuilds_the_queue_connection(url, request):
    """The flusher child builds its own pool like the queue's (a Sentinel pool included)."""
    connection = HistoryFlusher(django_rq.get_queue("default").connection, 1.0).connection()
    assert connection.client_info()["db"] == request.node.expected_db
    connection.close()
