"""The benchmark's server: uvicorn serving Switchboard in one process, in one of three modes.

  lean   the design: the hub (one pub/sub connection) and the lean ASGI path for watch/stream GETs
  full   the hub, but every request through Django's full middleware stack (no lean path)
  naive  the baseline: one Redis pub/sub connection per watcher (bench/boards_naive.py), lean path

GET /__bench/waiters answers how many watchers are parked (for the load client to know when to notify).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit; returns the new soft limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def waiters() -> int:
    import boards_naive

    from switchboard.hub import _hubs

    return boards_naive.waiting + sum(hub.waiter_count() for hub in list(_hubs.values()))


_profiler = None


def toggle_profile(path: str) -> dict:
    """/__bench/profile-start and /__bench/profile-stop (BENCH_PROFILE=file.prof): profile the wake only."""
    global _profiler
    import cProfile

    if path.endswith("start"):
        _profiler = cProfile.Profile()
        _profiler.enable()
    elif _profiler is not None:
        _profiler.disable()
        _profiler.dump_stats(os.environ["BENCH_PROFILE"])
        _profiler = None
    return {"profiling": _profiler is not None}


def with_probe(app):
    async def probe(scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/__bench/"):
            if scope["path"].startswith("/__bench/profile") and os.environ.get("BENCH_PROFILE"):
                data = toggle_profile(scope["path"])
            else:
                data = {"waiters": waiters(), "tasks": len(asyncio.all_tasks())}
            body = json.dumps(data).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return probe


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["lean", "full", "naive"], required=True)
    args = parser.parse_args()
    raise_fd_limit()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("MAX_STREAMS_PER_CLIENT", "100000")  # thousands of watchers from one load client
    import uvicorn

    from config.asgi import application, django_application

    if args.mode == "naive":
        import boards_naive

        boards_naive.install()
    app = with_probe(django_application if args.mode == "full" else application)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        backlog=4096,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=120,
    )


if __name__ == "__main__":
    main()
