"""switchboard.metrics: per-minute counters in Redis with a TTL, read as series in one MGET."""

import os
import subprocess
import sys
import time

from switchboard.metrics import FLUSH_AFTER, PREFIX, RETENTION, counter_add, counter_flush, counter_series


def test_counters_add_per_minute_and_read_back_oldest_first(redis_client):
    now = time.time()
    counter_add("t.events", at=now - 120)
    counter_add("t.events", 3, at=now)
    counter_add("t.events", 2, at=now)
    counter_add("t.other", 0, at=now)  # nothing to count: no key
    series = counter_series(["t.events", "t.other"], minutes=5, at=now)
    assert series == {"t.events": [0, 0, 1, 0, 5], "t.other": [0, 0, 0, 0, 0]}
    key = f"{PREFIX}:t.events:{int(now // 60)}"
    assert 0 < redis_client.ttl(key) <= RETENTION  # every minute's key expires: nothing grows forever
    assert not redis_client.exists(f"{PREFIX}:t.other:{int(now // 60)}")


def test_counters_join_the_callers_pipeline(redis_client):
    pipeline = redis_client.pipeline()
    counter_add("t.piped", 4, pipeline=pipeline)
    assert counter_series(["t.piped"], minutes=1) == {"t.piped": [0]}  # not before the caller executes it
    pipeline.execute()
    assert counter_series(["t.piped"], minutes=1) == {"t.piped": [4]}


def test_counts_of_the_process_cost_no_round_trip_and_are_written_within_flush_after(redis_client):
    key = f"{PREFIX}:t.later:{int(time.time() // 60)}"
    for _ in range(3):
        counter_add("t.later", 2)
    assert not redis_client.exists(key)  # added up in the process, not written per call
    deadline = time.monotonic() + FLUSH_AFTER + 5
    while not redis_client.exists(key):  # the timer writes them, with nobody reading
        assert time.monotonic() < deadline, "the process's counts were not written"
        time.sleep(0.05)
    assert int(redis_client.get(key)) == 6 and 0 < redis_client.ttl(key) <= RETENTION


def test_a_forked_child_does_not_write_its_parents_counts_again(redis_client):
    counter_add("t.forked", 5)
    pid = os.fork()
    if pid == 0:  # the child counts one of its own, writes what it holds, and leaves
        try:
            counter_add("t.forked", 1)
            counter_flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert counter_series(["t.forked"], minutes=1) == {"t.forked": [6]}


EXIT_DURING_FLUSH = """
import sys, time
import django
django.setup()
import redis
from switchboard import metrics
from switchboard.connections import redis_url
at = float(sys.argv[1])
metrics.FLUSH_AFTER = 0.05
# Writes wait 1.5 s: the timer's flush is still under way when this process ends, 0.3 s from now.
redis.Redis.from_url(redis_url()).execute_command("CLIENT", "PAUSE", 1500, "WRITE")
metrics.counter_add("t.exit", 3, at=at)
time.sleep(0.3)
sys.exit(0)
"""


def test_a_process_that_ends_while_its_counts_are_being_written_waits_for_them(child_env):
    """The interpreter stops a daemon thread where it stands when it finalizes: a flush cut there lost its
    counts, and once hung the process in the Redis client's finalizer (CI, a mutant run)."""
    at = time.time()
    started = time.monotonic()
    child = subprocess.run([sys.executable, "-c", EXIT_DURING_FLUSH, str(at)], env=child_env, timeout=60)
    assert child.returncode == 0
    assert 1.2 < time.monotonic() - started < 30  # it waited for the paused write, and no longer
    assert counter_series(["t.exit"], minutes=1, at=at) == {"t.exit": [3]}
