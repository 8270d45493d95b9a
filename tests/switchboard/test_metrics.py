"""switchboard.metrics: per-minute counters in Redis with a TTL, read as series in one MGET."""

import time

from switchboard.metrics import PREFIX, RETENTION, counter_add, counter_series


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
