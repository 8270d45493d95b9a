"""Run the whole site in one foreground process group: Redis, the apps' background processes, uvicorn.

An installed app asks for background processes (workers, schedulers) by defining a method on its AppConfig::

    def background_processes(
        self, *, python: str, manage: str, options: Mapping[str, Any]
    ) -> list[tuple[str, list[str]]]: ...

It returns ``(name, argv)`` pairs: ``python`` is this interpreter, ``manage`` the site's manage.py, ``options``
run_site's parsed command-line options (``rq_workers``, ``host``, ...). run_site starts them (in
INSTALLED_APPS order, before the web server) and restarts any that exits; names must be unique and not "web".

Settings (all optional): ASGI_APPLICATION (the app uvicorn serves), EMBEDDED_REDIS (True: start a
redis-server on DATA_DIR/redis.sock first), DATA_DIR, BASE_DIR (where manage.py is), and
SWITCHBOARD_SETUP_COMMANDS (management commands run after migrate, e.g. a site's demo data loader).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from switchboard.connections import redis_client
from switchboard.embedded_redis import RedisProcess


def check_redis(url: str) -> None:
    """Raise CommandError with one clear line when Redis at ``url`` does not answer."""
    try:
        redis_client(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        raise CommandError(
            f"REDIS_URL={url} does not answer ({exc}). Start Redis there, or unset REDIS_URL to use the embedded one."
        ) from None


def migrate_quietly() -> str:
    """Apply pending migrations without one line per migration; say how many were applied."""
    executor = MigrationExecutor(connection)
    pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    call_command("migrate", interactive=False, verbosity=0)
    return f"{pending} migration(s) applied" if pending else "migrations up to date"


def app_background_processes(*, python: str, manage: str, options: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """The background processes the installed apps ask for (AppConfig.background_processes), in INSTALLED_APPS order."""
    specs: list[tuple[str, list[str]]] = []
    taken = {"web"}
    for config in apps.get_app_configs():
        hook = getattr(config, "background_processes", None)
        if hook is None:
            continue
        for name, argv in hook(python=python, manage=manage, options=options):
            if name in taken:
                raise CommandError(
                    f"App {config.label!r} asks for a background process named {name!r}, which is taken: "
                    "give it a name of its own in its background_processes()."
                )
            taken.add(name)
            specs.append((name, list(argv)))
    return specs


def asgi_target() -> str:
    """settings.ASGI_APPLICATION ("site.asgi.application") as uvicorn names it ("site.asgi:application")."""
    path = getattr(settings, "ASGI_APPLICATION", None) or ""
    module, _, attribute = path.rpartition(".")
    if not module:
        raise CommandError(
            f"ASGI_APPLICATION={path!r} does not name an ASGI application: set it to the dotted path of your "
            "site's asgi.py application, e.g. ASGI_APPLICATION = 'mysite.asgi.application'."
        )
    return f"{module}:{attribute}"


def manage_py() -> str:
    """The site's manage.py: BASE_DIR/manage.py when it exists, else the script that runs this command."""
    candidate = Path(getattr(settings, "BASE_DIR", Path.cwd())) / "manage.py"
    return str(candidate if candidate.exists() else Path(sys.argv[0]).resolve())


def forwarded_args() -> list[str]:
    """uvicorn's proxy options: X-Forwarded-* trusted only from FORWARDED_ALLOW_IPS (default: no proxy, none)."""
    proxies = list(getattr(settings, "FORWARDED_ALLOW_IPS", []))
    return ["--forwarded-allow-ips", ",".join(proxies)] if proxies else ["--no-proxy-headers"]


def site_processes(*, python: str, manage: str, options: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """Every child run_site starts, in order: the apps' background processes, then the web server ("web")."""
    web = [python, "-m", "uvicorn", asgi_target(), "--host", options["host"], "--port",
           str(options["port"]), "--workers", str(options["web_workers"]), "--timeout-graceful-shutdown", "3",
           "--lifespan", "off", *forwarded_args()]  # fmt: skip
    return [*app_background_processes(python=python, manage=manage, options=options), ("web", web)]


class Supervisor:
    """Runs the site's children; restarts a background child that exits, with backoff (1 s doubling to 30 s).

    Only the web server exiting stops the site (``check()`` returns False): a worker that dies (a crash,
    a SIGKILL, the OOM killer) must not take the pages down with it.
    """

    MIN_BACKOFF, MAX_BACKOFF, STABLE_AFTER = 1.0, 30.0, 60.0

    def __init__(self, specs: list[tuple[str, list[str]]], *, cwd, log) -> None:
        self.specs = dict(specs)
        self.cwd, self.log = cwd, log
        self.children: dict[str, subprocess.Popen | None] = {}
        self.started_at: dict[str, float] = {}
        self.backoff = {name: self.MIN_BACKOFF for name in self.specs}
        self.restart_at: dict[str, float] = {}

    def start(self, name: str) -> None:
        self.children[name] = subprocess.Popen(self.specs[name], cwd=self.cwd, env=os.environ.copy())
        self.started_at[name] = time.monotonic()

    def start_all(self) -> None:
        for name in self.specs:
            self.start(name)

    def check(self) -> bool:
        """Restart the children that exited (when their backoff has passed); False when the web server exited."""
        now = time.monotonic()
        for name, child in self.children.items():
            if child is None:
                if now >= self.restart_at[name]:
                    self.log(f"{name}: starting again")
                    self.start(name)
                continue
            if child.poll() is None:
                continue
            if name == "web":
                self.log(f"web exited with code {child.returncode}; stopping the site")
                return False
            if now - self.started_at[name] > self.STABLE_AFTER:
                self.backoff[name] = self.MIN_BACKOFF
            delay = self.backoff[name]
            self.backoff[name] = min(delay * 2, self.MAX_BACKOFF)
            self.log(f"{name} exited unexpectedly with code {child.returncode}; restarting it in {delay:.0f} s")
            self.children[name] = None
            self.restart_at[name] = now + delay
        return True

    def stop_all(self) -> None:
        """SIGTERM every child, then SIGKILL those still running after 10 s (and say which, and who was slow)."""
        running = {name: child for name, child in self.children.items() if child is not None and child.poll() is None}
        for child in running.values():
            child.send_signal(signal.SIGTERM)
        started = time.monotonic()
        while running and time.monotonic() - started < 10:
            for name, child in list(running.items()):
                if child.poll() is not None:
                    del running[name]
                    if time.monotonic() - started > 3:
                        self.log(f"{name} took {time.monotonic() - started:.1f} s to stop")
            time.sleep(0.05)
        for name, child in running.items():
            self.log(f"{name} did not stop within 10 s of SIGTERM; killing it")
            child.kill()
            child.wait()


class Command(BaseCommand):
    help = (
        "Migrate, then start the embedded Redis (EMBEDDED_REDIS), the installed apps' background processes "
        "(AppConfig.background_processes) and uvicorn serving ASGI_APPLICATION."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=1)
        parser.add_argument("--rq-workers", type=int, default=1, help="rq workers per queue (apps that run rq workers)")
        parser.add_argument("--no-setup", action="store_true", help="skip migrate and the SWITCHBOARD_SETUP_COMMANDS")

    def handle(self, *args, **options):
        host, port = options["host"], options["port"]
        specs = site_processes(python=sys.executable, manage=manage_py(), options=options)
        redis_process = None
        if getattr(settings, "EMBEDDED_REDIS", False):
            data_dir = Path(getattr(settings, "DATA_DIR", Path.cwd() / "data"))
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
        elif getattr(settings, "REDIS_URL", None):
            check_redis(settings.REDIS_URL)

        supervisor = Supervisor(specs, cwd=getattr(settings, "BASE_DIR", Path.cwd()), log=self.stderr.write)
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            if not options["no_setup"]:
                self.stdout.write(f"Database: {migrate_quietly()}")
                for command in getattr(settings, "SWITCHBOARD_SETUP_COMMANDS", []):
                    call_command(command)
            supervisor.start_all()
            self.stdout.write(self.style.SUCCESS(f"Switchboard is running at http://{host}:{port}/ (Ctrl-C stops it)"))
            while not stopping:
                if not supervisor.check():
                    stopping = True
                time.sleep(0.3)
        finally:
            supervisor.stop_all()
            if redis_process:
                redis_process.stop()
            self.stdout.write("Stopped.")
