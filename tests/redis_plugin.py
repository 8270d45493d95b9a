"""pytest plugin (loaded with -p before Django starts): a private redis-server for the test session.

Unless REDIS_URL is set, start a real redis-server (the embedded binary, or one on PATH) listening on a
free port AND a unix socket, point REDIS_URL at the port and SWITCHBOARD_TEST_REDIS_UNIX_URL at the socket
(the ``redis_form`` fixture runs a test over each). A Redis the suite did not start is never flushed, unless
SWITCHBOARD_TEST_FLUSH_REDIS=1 says so explicitly.
"""

from __future__ import annotations

import os

import pytest

_private = None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _private
    if os.environ.get("REDIS_URL"):
        os.environ.setdefault("SWITCHBOARD_TEST_REDIS_OWNED", "0")
        return
    import tempfile
    from pathlib import Path

    from switchboard.embedded_redis import RedisProcess

    data_dir = Path(tempfile.mkdtemp(prefix="switchboard-redis-"))
    _private = RedisProcess(data_dir=data_dir, unix_socket=data_dir / "redis.sock", tcp=True).start()
    os.environ["REDIS_URL"] = _private.tcp_url
    os.environ["SWITCHBOARD_TEST_REDIS_UNIX_URL"] = _private.unix_url
    os.environ["SWITCHBOARD_TEST_REDIS_OWNED"] = "1"


def pytest_report_header(config):
    owned = os.environ.get("SWITCHBOARD_TEST_REDIS_OWNED") == "1"
    return f"redis: {os.environ.get('REDIS_URL')} ({'private, started for this run' if owned else 'external'})"


def pytest_unconfigure(config):
    if _private is not None:
        _private.stop()


def redis_flush_allowed() -> bool:
    """True when this run started its Redis, or SWITCHBOARD_TEST_FLUSH_REDIS=1 allows flushing it."""
    return (
        os.environ.get("SWITCHBOARD_TEST_REDIS_OWNED") == "1" or os.environ.get("SWITCHBOARD_TEST_FLUSH_REDIS") == "1"
    )
