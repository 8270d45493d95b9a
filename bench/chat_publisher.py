"""Benchmark helper: one publisher, through the chat service or raw redis-py, at a rate or flat out.

python bench/chat_publisher.py service <room[,room...]> <phase> <count> <rate|0>
python bench/chat_publisher.py raw <room[,room...]> <phase> <count> <rate|0>      (REDIS_URL from the env)
Message i goes to the (i mod rooms)th room.
Prints one JSON line: {"first_send_ns", "last_send_ns", "sent", "call_p50_ms", "call_p99_ms"}.
"""

from __future__ import annotations

import json
import os
import sys
import time

PAD = "x" * 60


def main() -> None:
    mode, room_slug, phase, count, rate = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    if mode == "service":
        import django

        django.setup()
        from chat.selectors import room_get
        from chat.services import message_post

        rooms = [room_get(slug=slug) for slug in room_slug.split(",")]

        def send(i: int, text: str) -> None:
            message_post(room=rooms[i % len(rooms)], author=None, text=text)

    else:
        import datetime

        import redis

        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        slugs = room_slug.split(",")
        seqs = dict.fromkeys(slugs, 0)

        def send(i: int, text: str) -> None:
            # The same envelope the service publishes (room, seq, author, text, created).
            slug = slugs[i % len(slugs)]
            seqs[slug] += 1
            envelope = {
                "room": slug,
                "seq": seqs[slug],
                "author": None,
                "text": text,
                "created": datetime.datetime.now(datetime.UTC).isoformat(),
            }
            client.publish(f"chat:room:{slug}", json.dumps(envelope, separators=(",", ":")).encode())

    start = time.monotonic()
    first = None
    calls = []
    for i in range(count):
        if rate:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        now = time.monotonic_ns()
        first = first or now
        send(i, f"bench {phase} {i} {now} {PAD}")
        calls.append(time.monotonic_ns() - now)
    end = time.monotonic_ns()
    calls.sort()
    print(
        json.dumps(
            {
                "first_send_ns": first,
                "last_send_ns": end,
                "sent": count,
                # How long one send took (for the service: the transaction, its commit and the publish).
                "call_p50_ms": calls[len(calls) // 2] / 1e6,
                "call_p99_ms": calls[min(len(calls) - 1, int(len(calls) * 0.99))] / 1e6,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
