"""Run rq's own test suite (the pinned rq's sdist) against the jobs app's worker and job classes.

    .venv/bin/python .ci/rq_suite.py [--keep] [pytest args...]

Downloads rq==<installed version> from PyPI as a source distribution (pip download --no-binary), extracts
its tests/, starts a private redis-server, and runs the relevant test modules twice: as shipped (stock
rq), and with ``rq.Worker``/``rq.SimpleWorker`` replaced by ``jobs.worker.JobsWorker``/``JobsSimpleWorker``
and rq's ``Job`` (``rq.job.Job``, the default job class of queues and registries) by ``JobsJob``. Every
test that passes stock but fails substituted must be listed, with its reason, in .ci/rq-suite-allowlist.txt;
the run fails on an unlisted difference and on a listed one that no longer differs. An unlisted difference
has its module run again with the jobs app's classes RERUNS times: it fails the run if it fails in any of them;
one that passes every time is reported with its first failure (rq's suite has timing assertions with no
margin, e.g. test_blocking_results's 1 s block, that a loaded machine breaks in either mode).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWLIST = ROOT / ".ci" / "rq-suite-allowlist.txt"
RERUNS = 3
MODULES = [
    "test_worker", "test_job", "test_registry", "test_timeouts", "test_commands", "test_callbacks",
    "test_executions", "test_retry", "test_intermediate_queue", "test_results", "test_dependencies",
]  # fmt: skip

# Loaded in every Python process of the run (the suite's own subprocesses too): rq's tests connect to
# Redis() on localhost:6379, which is the machine's; point that at the private server instead.
SITECUSTOMIZE = """
import os
import redis.connection

_port = int(os.environ["RQ_SUITE_REDIS_PORT"])
_init = redis.connection.Connection.__init__


def __init__(self, host="localhost", port=6379, *args, **kwargs):
    if port == 6379 and host in ("localhost", "127.0.0.1"):
        port = _port
    _init(self, host, port, *args, **kwargs)


redis.connection.Connection.__init__ = __init__
"""

# The substitution, done before rq's test modules import their names from rq: every rq module's binding of
# Job, Worker and SimpleWorker (rq.registry and rq.executions use the module's Job, not a class attribute).
CONFTEST = """
import os
import sys

if os.environ.get("RQ_SUITE_SUBSTITUTE") == "1":
    import django

    django.setup()

    import rq
    import rq.job
    import rq.queue
    import rq.registry
    import rq.worker

    from jobs.worker import JobsJob, JobsSimpleWorker, JobsWorker

    swaps = {rq.job.Job: JobsJob, rq.worker.Worker: JobsWorker, rq.worker.SimpleWorker: JobsSimpleWorker}
    for name, module in list(sys.modules.items()):
        if name == "rq" or name.startswith("rq."):
            for attribute in ("Job", "Worker", "SimpleWorker"):
                original = getattr(module, attribute, None)
                if original in swaps:
                    setattr(module, attribute, swaps[original])
    rq.queue.Queue.job_class = JobsJob
    rq.registry.BaseRegistry.job_class = JobsJob
"""


def download_tests(work: Path) -> Path:
    pinned = version("rq")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps", f"rq=={pinned}",
         "-d", str(work)],
        check=True,
    )  # fmt: skip
    archive = next(work.glob(f"rq-{pinned}.tar.gz"))
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(f"rq-{pinned}/tests/")]
        tar.extractall(work, members=members, filter="data")
    suite = work / "suite"
    shutil.move(work / f"rq-{pinned}" / "tests", suite / "tests")  # not next to rq's source: the installed rq runs
    (suite / "conftest.py").write_text(CONFTEST)
    (suite / "pytest.ini").write_text("[pytest]\naddopts = -p no:django -p no:cacheprovider\n")
    (work / "site").mkdir()
    (work / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return suite


def failures(report: Path) -> tuple[int, dict[str, str]]:
    """(tests run, {id of a failed or erroring one: its message}) from a JUnit XML report."""
    tree = ET.parse(report)  # noqa: S314 (our own pytest run wrote it)
    ran, failed = 0, {}
    for case in tree.iter("testcase"):
        ran += 1
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            failed[f"{case.get('classname')}::{case.get('name')}"] = (problem.get("message") or "").partition("\n")[0]
    return ran, failed


def module_path(test: str) -> str:
    """``tests.test_results.TestResult::test_x`` (a JUnit id) -> ``tests/test_results.py``."""
    package, module, _cls = test.partition("::")[0].rsplit(".", 2)
    return f"{package}/{module}.py"


def run(
    suite: Path, env: dict, substitute: bool, extra: list[str], tests: list[str] | None = None
) -> tuple[int, dict[str, str], float]:
    report = suite / f"report-{int(substitute)}.xml"
    started = time.monotonic()
    selection = sorted({module_path(test) for test in tests}) if tests else [f"tests/{m}.py" for m in MODULES]
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", f"--junitxml={report}", *selection, *extra],
        cwd=suite, env={**env, "RQ_SUITE_SUBSTITUTE": "1" if substitute else "0"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    ran, failed = failures(report)
    return ran, failed, time.monotonic() - started


def allowlist() -> dict[str, str]:
    """test id -> reason, from lines ``<test id>  # <reason>``."""
    listed = {}
    for line in ALLOWLIST.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            test, _, reason = line.partition("#")
            listed[test.strip()] = reason.strip()
    return listed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args, extra = parser.parse_known_args()
    sys.path.insert(0, str(ROOT))
    from switchboard.embedded_redis import RedisProcess

    work = Path(tempfile.mkdtemp(prefix="rq-suite-"))
    server = RedisProcess(data_dir=work / "redis").start()
    try:
        suite = download_tests(work)
        port = str(server.port)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(work / "site"), str(suite), str(ROOT)]),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),  # rqworker
            "RQ_SUITE_REDIS_PORT": port,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "DATABASE_URL": f"sqlite:///{work / 'history.sqlite3'}",
            "SWITCHBOARD_DATA_DIR": str(work),
            "DEBUG": "0",
            "SECRET_KEY": "rq-suite-only-not-secret-" + "x" * 40,
        }
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], env=env, check=True)
        ran_stock, stock, took_stock = run(suite, env, False, extra)
        ran_ours, ours, took_ours = run(suite, env, True, extra)
        listed = allowlist()
        suspects = sorted(set(ours) - set(stock) - set(listed))
        reproduced = set()
        for _ in range(RERUNS if suspects else 0):
            reproduced |= set(run(suite, env, True, extra, suspects)[1])
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    differences = set(ours) - set(stock)
    unlisted = sorted(reproduced & set(suspects))
    stale = sorted(set(listed) - differences)
    print(f"rq {version('rq')} suite ({', '.join(MODULES)}):")
    print(f"  stock rq:          {ran_stock - len(stock)} of {ran_stock} passed ({took_stock:.0f} s)")
    print(f"  jobs app classes:  {ran_ours - len(ours)} of {ran_ours} passed ({took_ours:.0f} s)")
    for test in sorted(stock):
        print(f"  (fails stock too, not ours to list) {test}")
    for test in sorted(differences & set(listed)):
        print(f"  listed difference: {test}: {listed[test]}")
    for test in suspects:
        print(f"  first failure with the jobs app's classes: {test}: {ours[test]}")
    for test in unlisted:
        print(
            f"  UNLISTED DIFFERENCE: {test} passes with stock rq, fails with the jobs app's classes (again on re-run)"
        )
    for test in sorted(set(suspects) - reproduced):
        print(
            f"  did not reproduce: {test} failed once with the jobs app's classes,"
            f" passed in {RERUNS} re-runs of its module"
        )
    for test in stale:
        print(f"  STALE ALLOWLIST ENTRY: {test} no longer differs; remove it from {ALLOWLIST.name}")
    if args.keep:
        print(f"  work directory kept: {work}")
    ok = not unlisted and not stale and ran_ours == ran_stock and ran_ours > 0
    print("rq suite: " + ("OK, only listed differences" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
