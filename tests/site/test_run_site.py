"""manage.py run_site starts the installed apps' background processes and the web server, and supervises
them: a worker that dies is started again, the site stays up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError

from switchboard.embedded_redis import RedisProcess, free_port
from switchboard.management.commands.run_site import Command, site_processes
from tests.conftest import ROOT

WEB = ["py", "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", "8123", "--workers", "1",
       "--timeout-graceful-shutdown", "3", "--lifespan", "off", "--no-proxy-headers"]  # fmt: skip
SHARED = ["django.contrib.auth", "django.contrib.contenttypes", "switchboard"]


def processes(*argv: str) -> list[tuple[str, list[str]]]:
    """What ``manage.py run_site --port 8123 argv`` would start, without starting it."""
    options = vars(Command().create_parser("manage.py", "run_site").parse_args(["--port", "8123", *argv]))
    return site_processes(python="py", manage="manage.py", options=options)


def test_with_jobs_installed_it_runs_rq_workers_per_queue_and_rqcron_before_the_web_server():
    assert processes("--rq-workers", "2") == [
        ("worker-high-1", ["py", "manage.py", "jobs_worker", "high", "--with-scheduler"]),
        ("worker-high-2", ["py", "manage.py", "jobs_worker", "high", "--with-scheduler"]),
        ("worker-default-1", ["py", "manage.py", "jobs_worker", "default", "--with-scheduler"]),
        ("worker-default-2", ["py", "manage.py", "jobs_worker", "default", "--with-scheduler"]),
        ("worker-low-1", ["py", "manage.py", "jobs_worker", "low", "--with-scheduler"]),
        ("worker-low-2", ["py", "manage.py", "jobs_worker", "low", "--with-scheduler"]),
        ("worker-system-1", ["py", "manage.py", "jobs_worker", "system", "--with-scheduler"]),
        ("worker-system-2", ["py", "manage.py", "jobs_worker", "system", "--with-scheduler"]),
        ("cron", ["py", "manage.py", "jobs_cron"]),
        ("web", WEB),
    ]


def test_by_default_it_runs_one_worker_per_queue_from_jobs_worker_queues(settings):
    settings.JOBS_WORKER_QUEUES = ["default", "low"]
    assert [name for name, _ in processes()] == ["worker-default-1", "worker-low-1", "cron", "web"]


def test_without_jobs_installed_it_runs_only_the_web_server(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "jobs"]
    assert processes("--rq-workers", "2") == [("web", WEB)]


def test_it_runs_every_installed_apps_background_processes_in_installed_apps_order(settings):
    settings.INSTALLED_APPS = [*SHARED, "tests.site.background_app.BeaconConfig"]
    assert processes() == [("beacon", ["py", "manage.py", "beacon", "--port", "8123"]), ("web", WEB)]
    settings.INSTALLED_APPS = [*SHARED, "tests.site.background_app.BeaconConfig", "jobs"]
    assert [name for name, _ in processes()] == ["beacon", "worker-high-1", "worker-default-1", "worker-low-1",
                                                 "worker-system-1", "cron", "web"]  # fmt: skip


def test_a_background_process_named_like_another_one_is_refused_with_the_app_to_fix(settings):
    settings.INSTALLED_APPS = [*SHARED, "tests.site.background_app.ClashingConfig"]
    with pytest.raises(CommandError, match="App 'clashing' asks for a background process named 'web', which is taken"):
        processes()


def test_the_web_server_serves_the_hosts_asgi_application_and_every_setting_has_a_default(settings):
    settings.ASGI_APPLICATION = "mysite.asgi.application"
    settings.INSTALLED_APPS = SHARED
    ((name, argv),) = processes()
    assert name == "web" and argv[3] == "mysite.asgi:application"
    settings.ASGI_APPLICATION = None
    with pytest.raises(CommandError, match="ASGI_APPLICATION='' does not name an ASGI application"):
        processes()


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def worker_pids(pid: int) -> list[int]:
    """run_site's jobs_worker children."""
    pids = []
    for child in children(pid):
        try:
            if b"jobs_worker" in Path(f"/proc/{child}/cmdline").read_bytes():
                pids.append(child)
        except FileNotFoundError:
            pass
    return pids


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
            return response.status == 200
    except OSError:
        return False


def wait_for(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)
    return value


@pytest.fixture
def private_redis():
    server = RedisProcess().start()
    yield server
    server.stop()


def test_a_sigkilled_worker_is_restarted_while_the_web_server_keeps_answering(child_env, private_redis, tmp_path):
    port = free_port()
    env = {**child_env, "REDIS_URL": private_redis.url, "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    log = open(tmp_path / "run_site.log", "w+")
    site = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "run_site", "--no-setup", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/"), timeout=60)
        workers = wait_for(lambda: len(pids := worker_pids(site.pid)) == 4 and pids, timeout=30)
        os.kill(workers[0], signal.SIGKILL)
        wait_for(lambda: workers[0] not in (pids := worker_pids(site.pid)) and len(pids) == 4, timeout=30)
        assert answers(f"http://127.0.0.1:{port}/")
        assert site.poll() is None
    finally:
        os.killpg(site.pid, signal.SIGTERM)
        site.wait(timeout=30)
        log.seek(0)
        output = log.read()
        log.close()
    assert "exited unexpectedly with code -9; restarting it in 1 s" in output, output[-3000:]
    assert "starting again" in output


def test_in_a_host_without_the_sites_settings_it_serves_asgi_application_and_stops_cleanly(
    private_redis, tmp_path, scratch_database_url
):
    """The ledger-alone host has no EMBEDDED_REDIS, DATA_DIR, BASE_DIR or setup commands: no crash, no demo
    data; it migrates, serves its ASGI_APPLICATION, and stops on SIGTERM."""
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tests.ledger.settings_alone",
           "DATABASE_URL": scratch_database_url, "REDIS_URL": private_redis.url}  # fmt: skip
    log = open(tmp_path / "run_site.log", "w+")
    site = subprocess.Popen(
        [sys.executable, "-m", "django", "run_site", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip

    def serves() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ledger/", timeout=5)  # loopback only
        except urllib.error.HTTPError:
            return True  # an answer: ALLOWED_HOSTS of this host holds only "testserver"
        except OSError:
            return False
        return True

    try:
        wait_for(serves, timeout=60)
        assert site.poll() is None
    finally:
        os.killpg(site.pid, signal.SIGTERM)
        site.wait(timeout=30)
        log.seek(0)
        output = log.read()
        log.close()
    assert "Switchboard is running at" in output and "Embedded Redis" not in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
