"""Run the whole site in one foreground process group: Redis, rq workers (one per queue), rqcron, uvicorn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from switchboard.embedded_redis import RedisProcess


def check_redis(url: str) -> None:
    """Raise CommandError with one clear line when Redis at ``url`` does not answer."""
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise CommandError(
            f"REDIS_URL={url} does not answer ({exc}). Start Redis there, or unset REDIS_URL to use the embedded one."
        ) from None


class Command(BaseCommand):
    help = "Start the embedded Redis (unless REDIS_URL is set), an rq worker with the scheduler, and uvicorn."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=1)
        parser.add_argument("--rq-workers", type=int, default=1, help="workers per queue")
        parser.add_argument("--no-setup", action="store_true", help="skip migrate and demo_setup")

    def handle(self, *args, host: str, port: int, web_workers: int, rq_workers: int, no_setup: bool, **options):
        redis_process = None
        if settings.EMBEDDED_REDIS:
            data_dir = Path(settings.DATA_DIR)
            redis_process = RedisProcess(
                data_dir=data_dir / "redis",
                unix_socket=data_dir / "redis.sock",
                persist=True,
                log_file=data_dir / "redis.log",
            )
            try:
                redis_process.start()
            except RuntimeError as exc:
                raise CommandError(f"Embedded Redis did not start: {exc}") from None
            self.stdout.write(f"Embedded Redis on {redis_process.url} (data in {data_dir / 'redis'})")
        else:
            check_redis(settings.REDIS_URL)

        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        # Worker topology (owned by the jobs app, see README "Jobs"): one worker per queue, so each
        # uses rq's reliable BLMOVE dequeue (a job is never only in a dying worker's memory); each runs
        # the scheduler for its queue (delays, retry backoff); rqcron enqueues the periodic jobs.
        from jobs.conf import setting as jobs_setting

        specs = [
            (f"worker-{queue}-{n}", [python, manage, "jobs_worker", queue, "--with-scheduler"])
            for queue in jobs_setting("JOBS_WORKER_QUEUES")
            for n in range(1, rq_workers + 1)
        ]
        specs.append(("cron", [python, manage, "rqcron", "jobs.cron"]))
        specs.append(
            (
                "web",
                [python, "-m", "uvicorn", "config.asgi:application", "--host", host, "--port", str(port),
                 "--workers", str(web_workers), "--timeout-graceful-shutdown", "3", "--lifespan", "off"],
            )
        )  # fmt: skip
        children: list[tuple[str, subprocess.Popen]] = []
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            if not no_setup:
                call_command("migrate", interactive=False, verbosity=1)
                call_command("demo_setup")
            for name, cmd in specs:
                children.append((name, subprocess.Popen(cmd, cwd=settings.BASE_DIR, env=os.environ.copy())))
            self.stdout.write(self.style.SUCCESS(f"Switchboard is running at http://{host}:{port}/ (Ctrl-C stops it)"))
            while not stopping:
                for name, child in children:
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with code {child.returncode}; stopping the site")
                        stopping = True
                time.sleep(0.3)
        finally:
            for _, child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for _, child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            if redis_process:
                redis_process.stop()
            self.stdout.write("Stopped.")
