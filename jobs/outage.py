"""Waiting out a Redis outage: the worker's steps retry with backoff instead of quitting (rq 2.12 quits)."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from django.db import close_old_connections

logger = logging.getLogger("jobs.worker")


REDIS_DOWN = (redis.ConnectionError, redis.TimeoutError)
REDIS_RETRY_MAX_WAIT = 10.0


def until_redis_answers(what: str, func, *args: Any, **kwargs: Any) -> Any:
    """Call ``func`` until it gets through to Redis: while Redis is down, retry with backoff (0.5 s to 10 s)."""
    wait = 0.5
    while True:
        try:
            return func(*args, **kwargs)
        except REDIS_DOWN as exc:
            logger.warning("jobs: Redis does not answer while %s (%s); retrying in %.1f s", what, exc, wait)
            time.sleep(wait)
            wait = min(wait * 2, REDIS_RETRY_MAX_WAIT)


def safely(what: str, func, **kwargs: Any) -> None:
    """Run a history recorder (waiting out a Redis outage); a database hiccup must never take the worker down."""
    try:
        until_redis_answers(f"recording {what}", func, **kwargs)
    except Exception:
        logger.exception("jobs: could not record %s", what)
        close_old_connections()
