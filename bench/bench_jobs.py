"""Benchmark the jobs app against raw rq and Celery: enqueue/s and processed/s of no-op jobs.

Loopback only: starts its own redis-server (switchboard.embedded_redis) and its own SQLite file (or database).
Every figure is measured in this one run, so the ratios compare like with like on a shared machine.

    .venv/bin/python bench/bench_jobs.py            # 5,000 jobs per figure, 3 rounds (about 10 minutes)
    .venv/bin/python bench/bench_jobs.py --quick    # 1,000 jobs per figure, 2 rounds
    .venv/bin/python bench/bench_jobs.py --topology # only: the default worker vs Celery prefork vs forking
    .venv/bin/python bench/bench_jobs.py --quick --enqueue-only [--db postgres]  # only the enqueue figures

Enqueue figures: the durable path (the default: the JobRun row written in the caller's transaction, the job
pushed on commit) and the Redis-only one (JOBS_DURABLE_ENQUEUE=False), one by one against raw rq's
enqueue (target >= 0.5x) and in bulk against Celery's fastest bulk path, the faster of group().apply_async()
and apply_async in a loop on one producer (target >= 5x); --db postgres writes the rows to PostgreSQL.

--topology compares what `make run` starts per queue (jobs_worker's default: a pool of as many work processes
as cores) with Celery prefork (c = cores, results on) and the forking JobsWorker (the previous default):
no-op jobs processed/s, and a mixed load (90 % 1 ms jobs, 10 % 200 ms jobs arriving at a steady rate) where
the figure is the p99 wait (enqueue to start) of the short jobs. A full run ends with the same section.

processed/s is timed from the first finished job to the last (worker start-up excluded), by polling
a counter Redis keeps anyway: rq's finished-job registry, or Celery's result keys.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path[:0] = [str(ROOT), str(BENCH)]

from processes import stop_process_groups  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
PG_NAME = f"sb_bench_jobs_{os.getpid()}"


def pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def drop_database() -> None:
    if os.environ.get("DATABASE_URL", "").endswith("/" + PG_NAME):
        from django.db import connections

        connections.close_all()
        pg_admin(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')


def setup(tmp: Path, db: str = "sqlite") -> dict[str, str]:
    from switchboard.embedded_redis import RedisProcess

    database_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    if db == "postgres":  # a database of its own, dropped at the end
        pg_admin(f'DROP DATABASE IF EXISTS "{PG_NAME}"')
        pg_admin(f'CREATE DATABASE "{PG_NAME}"')
        database_url = f"{PG_ADMIN_URL}/{PG_NAME}"

    server = RedisProcess(data_dir=tmp / "redis").start()
    env = os.environ.copy()
    env.update(
        REDIS_URL=server.url,
        DATABASE_URL=database_url,
        SWITCHBOARD_DATA_DIR=str(tmp),
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=f"{ROOT}:{BENCH}",
        LOG_LEVEL="WARNING",
        # as in production: DEBUG=1 makes Django record every query, which the history flusher pays for
        DEBUG="0",
        SECRET_KEY="bench-only-not-secret-" + "x" * 40,
        RQ_LOG_LEVEL="WARNING",
        BENCH_CELERY_BROKER=server.url.rsplit("/", 1)[0] + "/1",
        BENCH_CELERY_BACKEND=server.url.rsplit("/", 1)[0] + "/2",
    )
    os.environ.update(
        {
            k: env[k]
            for k in (
                "REDIS_URL",
                "DATABASE_URL",
                "SWITCHBOARD_DATA_DIR",
                "DJANGO_SETTINGS_MODULE",
                "DEBUG",
                "SECRET_KEY",
            )
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env, server


def reset() -> None:
    from django_rq import get_connection

    from jobs.models import JobRun

    get_connection("default").flushdb()
    JobRun.objects.all().delete()


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def timed(func, n: int) -> float:
    gc.collect()  # a full collection left over from the previous figure must not land in this one
    start = time.perf_counter()
    func(n)
    return rate(n, time.perf_counter() - start)


def drain(cmds: list[list[str]], env: dict, count, n: int, timeout: float = 600) -> float:
    """Start the worker commands; processed/s between the first and the n-th finished job."""
    procs = start(cmds, env)
    first = last = None
    deadline = time.monotonic() + timeout
    try:
        while True:
            done = count()
            now = time.perf_counter()
            if done >= 1 and first is None:
                first = (now, done)
            if done >= n:
                last = (now, done)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {done}/{n} jobs finished within {timeout}s")
            if all(p.poll() is not None for p in procs) and count() < n:
                errors = b"".join(p.stderr.read() for p in procs).decode()[-2000:]
                raise RuntimeError(f"workers exited with {count()}/{n} done: {errors}")
            time.sleep(0.005)
    finally:
        stop_process_groups(procs, timeout=20)
    return rate(last[1] - first[1], last[0] - first[0])


def finished_count(queue: str):
    from django_rq import get_connection

    conn = get_connection("default")
    return lambda: conn.zcard(f"rq:finished:{queue}")


# Enqueue figures are short (about a second) and swing with the machine's load: each is taken this many
# times per round, alternating with its twins.
ENQUEUE_REPS = 3


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def start(cmds: list[list[str]], env: dict) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
        for cmd in cmds
    ]  # fmt: skip


def mixed_load(submit, collect, ready, *, jobs: int, rate: float, seed: int = 19) -> list[float]:
    """Submit ``jobs`` timed jobs at ``rate``/s (every tenth, at random, a 200 ms one, the rest 1 ms), once
    ``ready()``; returns the waits (enqueue to start, seconds) of the 1 ms jobs."""
    import random

    deadline = time.monotonic() + 60
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not start within 60 s")
        time.sleep(0.1)
    mix = random.Random(seed)
    kinds = [200 if mix.random() < 0.1 else 1 for _ in range(jobs)]
    handles = []
    t0 = time.monotonic()
    for i, ms in enumerate(kinds):
        pause = t0 + i / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        handles.append(submit(ms, time.time()))
    waits = collect(handles)
    return [w for w, ms in zip(waits, kinds, strict=True) if ms == 1]


def topology(
    env: dict, *, n: int, n_fork: int, rounds: int, mixed_jobs: int, mixed_rate: float, mixed_only: bool = False
) -> dict:
    """The default topology vs Celery prefork (c = cores) vs the forking JobsWorker; returns the samples."""
    import redis as redis_py
    from celery.result import AsyncResult
    from django_rq import get_connection
    from jobs_celery import app as celery_app
    from rq.job import Job
    from rq.worker import Worker

    from jobs.services import jobs_enqueue_many, queue_get

    cores = os.cpu_count() or 1
    python = sys.executable
    manage = [python, str(ROOT / "manage.py")]
    conn = get_connection("default")
    broker = redis_py.Redis.from_url(env["BENCH_CELERY_BROKER"])
    backend = redis_py.Redis.from_url(env["BENCH_CELERY_BACKEND"])
    noop_task, timed_task = celery_app.tasks["noop"], celery_app.tasks["timed"]
    pool = [*manage, "jobs_worker", "high", "-v", "0"]
    fork = [*manage, "jobs_worker", "high", "--fork", "-v", "0"]
    celery = [python, "-m", "celery", "-A", "jobs_celery", "worker", "-P", "prefork", "-c", str(cores), "-l",
              "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    samples: dict[str, list[float]] = {}

    def show(label: str, value: float, unit: str = "/s") -> None:
        samples.setdefault(label, []).append(value)
        print(f"  {label:<52} {value:>9.{0 if unit == '/s' else 1}f}{unit}", flush=True)

    def reset_all() -> None:
        reset()
        broker.flushdb()
        backend.flushdb()

    high = queue_get(name="high")

    def rq_submit(ms: int, sent: float) -> str:
        return high.enqueue("jobs_raw.timed", ms, sent).id

    def rq_collect(ids: list[str]) -> list[float]:
        deadline = time.monotonic() + 300
        while conn.zcard("rq:finished:high") < len(ids):
            if time.monotonic() > deadline:
                raise RuntimeError("mixed load: the rq jobs did not finish within 300 s")
            time.sleep(0.05)
        return [job.return_value() for job in Job.fetch_many(ids, connection=conn)]

    def celery_collect(results: list) -> list[float]:
        return [r.get(timeout=300) for r in results]

    def rq_ready(count: int):
        return lambda: Worker.count(queue=high) >= count

    def celery_ready() -> bool:
        probe = noop_task.delay()
        try:
            probe.get(timeout=1)
            return True
        except Exception:
            return False
        finally:
            AsyncResult(probe.id, app=celery_app).forget()

    drains = [
        (f"default topology: pool of {cores} processed", [[*pool, "--burst"]], finished_count("high"), "app"),
        (f"celery prefork c={cores} processed (results on)", [celery], backend.dbsize, "celery"),
    ]
    mixes = [
        ("default topology", pool, rq_submit, rq_collect, rq_ready(cores)),
        (f"celery prefork c={cores}", celery, lambda ms, sent: timed_task.delay(ms, sent), celery_collect,
         celery_ready),
        ("forking JobsWorker (baseline)", fork, rq_submit, rq_collect, rq_ready(1)),
    ]  # fmt: skip
    if mixed_only:
        drains, mixes = [], mixes[:2]
    for r in range(rounds):
        print(f" topology round {r + 1}/{rounds}", flush=True)
        for label, cmds, count, kind in drains[r % 2 :] + drains[: r % 2]:
            reset_all()
            if kind == "app":
                jobs_enqueue_many(name="noop", params_list=[{}] * n)
            else:
                [noop_task.delay() for _ in range(n)]
            show(label, drain(cmds, env, count, n))
        if not mixed_only:
            reset_all()
            jobs_enqueue_many(name="noop", params_list=[{}] * n_fork)
            forked = drain([[*fork, "--burst"]], env, finished_count("high"), n_fork)
            show("forking JobsWorker processed (baseline)", forked)
        for label, cmd, submit, collect, ready in mixes[r % 2 :] + mixes[: r % 2]:
            reset_all()
            procs = start([cmd], env)
            try:
                waits = mixed_load(submit, collect, ready, jobs=mixed_jobs, rate=mixed_rate)
            finally:
                stop_process_groups(procs, timeout=30)
            show(f"mixed: {label} short-job p99 wait", 1000 * percentile(waits, 99), " ms")
            show(f"mixed: {label} short-job p50 wait", 1000 * percentile(waits, 50), " ms")
            show(f"mixed: {label} short-job p90 wait", 1000 * percentile(waits, 90), " ms")
    return samples


def topology_report(samples: dict, cores: int) -> None:
    pairs = {
        "default/celery processed": (f"default topology: pool of {cores} processed",
                                     f"celery prefork c={cores} processed (results on)"),
        "default/forking processed": (f"default topology: pool of {cores} processed",
                                      "forking JobsWorker processed (baseline)"),
        "short p99 wait default/celery": ("mixed: default topology short-job p99 wait",
                                          f"mixed: celery prefork c={cores} short-job p99 wait"),
        "short p99 wait default/forking": ("mixed: default topology short-job p99 wait",
                                           "mixed: forking JobsWorker (baseline) short-job p99 wait"),
    }  # fmt: skip
    print("topology medians:")
    for label, values in samples.items():
        print(f"  {label:<52} {median(values):>9.1f}   ({', '.join(f'{v:.1f}' for v in values)})")
    ratios = {
        name: median([a / b for a, b in zip(samples[top], samples[bottom], strict=True)])
        for name, (top, bottom) in pairs.items()
        if top in samples and bottom in samples
    }
    print("topology ratios (median of the paired samples; processed: higher is better, wait: lower is better): "
          + "  ".join(f"{k} {v:.2f}" for k, v in ratios.items()))  # fmt: skip


CELERY_BEST_BULK = "celery fastest bulk (group or one producer)"
PAIRS = {
    "durable/rq enqueue": ("app job_enqueue durable (one by one)", "rq enqueue (one by one)"),
    "redis-only/rq enqueue": ("app job_enqueue Redis only (one by one)", "rq enqueue (one by one)"),
    "durable/rq bulk enqueue": ("app jobs_enqueue_many durable (per 1000)", "rq enqueue_many (pipeline per 1000)"),
    "redis-only/rq bulk enqueue": ("app jobs_enqueue_many Redis only (per 1000)",
                                   "rq enqueue_many (pipeline per 1000)"),
    "durable bulk/celery best bulk": ("app jobs_enqueue_many durable (per 1000)", CELERY_BEST_BULK),
    "durable bulk/celery .delay()": ("app jobs_enqueue_many durable (per 1000)", "celery .delay() (one by one)"),
    "app/rq processed": ("app JobsSimpleWorker processed", "rq SimpleWorker processed"),
    "app/rq pool processed": ("app pool of 2 JobsSimpleWorkers processed", "rq pool of 2 SimpleWorkers processed"),
    "app/rq forking processed": ("app JobsWorker (forking) processed", "rq forking Worker processed"),
    "tasks/rq enqueue": ("tasks API .enqueue() (one by one)", "rq enqueue (one by one)"),
    "tasks/rq processed": ("tasks API JobsSimpleWorker processed", "rq SimpleWorker processed"),
    "app pool/celery processed": (
        "app pool of 2 JobsSimpleWorkers processed",
        "celery prefork c=2 processed (results on)",
    ),
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 jobs per figure and 2 rounds")
    parser.add_argument("-n", type=int, default=None, help="jobs per figure")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of every figure (default 3; quick: 2)")
    parser.add_argument("--topology", action="store_true", help="only the default topology vs Celery vs forking")
    parser.add_argument(
        "--enqueue-only",
        action="store_true",
        help="only the enqueue figures (durable, Redis only, raw rq, Celery's bulk paths)",
    )
    parser.add_argument(
        "--db",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="the JobRun rows' database: a SQLite file, or a PostgreSQL database of its own "
        "(BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432)",
    )
    parser.add_argument("--mixed-jobs", type=int, default=400, help="jobs of the mixed load (topology)")
    parser.add_argument("--mixed-rate", type=float, default=30.0, help="jobs/s of the mixed load (topology)")
    parser.add_argument("--mixed-only", action="store_true", help="topology: only the mixed load, without forking")
    args = parser.parse_args()
    n = args.n or (1000 if args.quick else 5000)
    rounds = args.rounds or (2 if args.quick else 3)
    n_fork = max(100, n // 10)
    tmp = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    env, server = setup(tmp, args.db)
    python = sys.executable
    manage = [python, str(ROOT / "manage.py")]
    rq_cli = [python, "-m", "rq.cli", "worker", "--burst", "--url", env["REDIS_URL"], "--logging_level", "WARNING"]
    samples: dict[str, list[float]] = {}

    from django_rq import get_connection
    from rq import Queue

    from jobs.services import job_enqueue, jobs_enqueue_many
    from jobs.tasks import tasks_noop

    conn = get_connection("default")
    raw_q = Queue("raw", connection=conn)
    os.environ.update(BENCH_CELERY_BROKER=env["BENCH_CELERY_BROKER"], BENCH_CELERY_BACKEND=env["BENCH_CELERY_BACKEND"])
    if args.topology:
        print(f"jobs topology benchmark: {n} no-op jobs ({n_fork} for the forking worker), mixed load of "
              f"{args.mixed_jobs} jobs at {args.mixed_rate:g}/s, {rounds} rounds, {os.cpu_count()} cores")  # fmt: skip
        try:
            found = topology(env, n=n, n_fork=n_fork, rounds=rounds, mixed_jobs=args.mixed_jobs,
                             mixed_rate=args.mixed_rate, mixed_only=args.mixed_only)  # fmt: skip
        finally:
            server.stop()
            drop_database()
        topology_report(found, os.cpu_count() or 1)
        return

    def show(label: str, value: float) -> None:
        samples.setdefault(label, []).append(value)
        print(f"  {label:<46} {value:>9.0f}/s", flush=True)

    print(
        f"jobs benchmark: {n} no-op jobs per figure ({n_fork} for forking workers), {rounds} rounds, Redis {server.url}"
    )
    print("  (in each round every figure is measured next to its twins, in a rotating order, so load changes hit")
    print("   all alike; the summary gives each figure's median and the median of the paired ratios)")
    import redis as redis_py

    os.environ.update(BENCH_CELERY_BROKER=env["BENCH_CELERY_BROKER"], BENCH_CELERY_BACKEND=env["BENCH_CELERY_BACKEND"])
    from celery import group
    from django.test import override_settings
    from jobs_celery import app as celery_app

    broker = redis_py.Redis.from_url(env["BENCH_CELERY_BROKER"])
    backend = redis_py.Redis.from_url(env["BENCH_CELERY_BACKEND"])
    noop_task = celery_app.tasks["noop"]
    app_simple = [*manage, "jobs_worker", "high", "--simple", "--burst", "-v", "0"]
    tasks_simple = [*manage, "jobs_worker", "default", "--simple", "--burst", "-v", "0"]
    simple = [*rq_cli, "--worker-class", "rq.worker.SimpleWorker", "raw"]
    celery = [python, "-m", "celery", "-A", "jobs_celery", "worker", "-P", "prefork", "-c", "2", "-l", "WARNING",
              "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip

    def raw_bulk(k: int) -> None:
        for start in range(0, k, 1000):
            with conn.pipeline() as pipe:
                datas = [Queue.prepare_data("jobs_raw.noop") for _ in range(min(1000, k - start))]
                raw_q.enqueue_many(datas, pipeline=pipe)
                pipe.execute()

    def rotated(items: list, r: int) -> list:
        return items[r % len(items) :] + items[: r % len(items)]

    def reset_all() -> None:
        reset()
        broker.flushdb()
        backend.flushdb()

    def redis_only(func):
        """``func`` with JOBS_DURABLE_ENQUEUE off: the job and its history event to Redis, no INSERT."""

        def run(k: int) -> None:
            with override_settings(JOBS_DURABLE_ENQUEUE=False):
                func(k)

        return run

    def celery_group(k: int) -> None:
        for start in range(0, k, 1000):
            group(noop_task.s() for _ in range(min(1000, k - start))).apply_async()

    def celery_producer(k: int) -> None:
        with celery_app.producer_or_acquire() as producer:
            for _ in range(k):
                noop_task.apply_async(producer=producer)

    one_by_one = [
        ("rq enqueue (one by one)", lambda k: [raw_q.enqueue("jobs_raw.noop") for _ in range(k)]),
        ("app job_enqueue durable (one by one)", lambda k: [job_enqueue(name="noop", params={}) for _ in range(k)]),
        ("app job_enqueue Redis only (one by one)",
         redis_only(lambda k: [job_enqueue(name="noop", params={}) for _ in range(k)])),
        ("tasks API .enqueue() (one by one)", lambda k: [tasks_noop.enqueue() for _ in range(k)]),
        ("celery .delay() (one by one)", lambda k: [noop_task.delay() for _ in range(k)]),
    ]  # fmt: skip
    single_drains = [
        ("rq SimpleWorker processed", [simple], finished_count("raw")),
        ("app JobsSimpleWorker processed", [app_simple], finished_count("high")),
        ("tasks API JobsSimpleWorker processed", [tasks_simple], finished_count("default")),
        ("celery prefork c=2 processed (results on)", [celery], backend.dbsize),
    ]
    bulk = [
        ("rq enqueue_many (pipeline per 1000)", raw_bulk),
        ("app jobs_enqueue_many durable (per 1000)", lambda k: jobs_enqueue_many(name="noop", params_list=[{}] * k)),
        ("app jobs_enqueue_many Redis only (per 1000)",
         redis_only(lambda k: jobs_enqueue_many(name="noop", params_list=[{}] * k))),
        ("celery group().apply_async() (per 1000)", celery_group),
        ("celery apply_async, one producer", celery_producer),
    ]  # fmt: skip
    pools = [
        ("rq pool of 2 SimpleWorkers processed", [simple, simple], finished_count("raw")),
        ("app pool of 2 JobsSimpleWorkers processed", [app_simple, app_simple], finished_count("high")),
    ]
    try:
        for r in range(rounds):
            print(f" round {r + 1}/{rounds}", flush=True)
            # enqueue figures: each measured ENQUEUE_REPS times in a row of alternating twins, from empty queues
            for _ in range(ENQUEUE_REPS):
                for label, func in rotated(one_by_one, r):
                    reset_all()
                    show(label, timed(func, n))
                for label, func in rotated(bulk, r):
                    reset_all()
                    show(label, timed(func, n))
                # Celery's fastest bulk path of this repetition: the faster of its two (group or one producer)
                samples.setdefault(CELERY_BEST_BULK, []).append(
                    max(samples["celery group().apply_async() (per 1000)"][-1],
                        samples["celery apply_async, one producer"][-1]))  # fmt: skip
            if args.enqueue_only:
                continue
            # processing figures: n jobs on each queue, then its worker(s) drain it
            reset_all()
            raw_bulk(n)
            jobs_enqueue_many(name="noop", params_list=[{}] * n)
            [tasks_noop.enqueue() for _ in range(n)]
            [noop_task.delay() for _ in range(n)]
            for label, cmds, count in rotated(single_drains, r):
                show(label, drain(cmds, env, count, n))
            reset_all()
            raw_bulk(n)
            jobs_enqueue_many(name="noop", params_list=[{}] * n)
            for label, cmds, count in rotated(pools, r):
                show(label, drain(cmds, env, count, n))
        # -- forking workers (a work horse per job): slow, one round ------------------------------------------
        if args.enqueue_only:
            return report(samples, PAIRS, {})
        reset_all()
        raw_bulk(n_fork)
        jobs_enqueue_many(name="noop", params_list=[{}] * n_fork)
        show("rq forking Worker processed", drain([[*rq_cli, "raw"]], env, finished_count("raw"), n_fork))
        app_fork = [*manage, "jobs_worker", "high", "--fork", "--burst", "-v", "0"]
        show("app JobsWorker (forking) processed", drain([app_fork], env, finished_count("high"), n_fork))
        found = topology(env, n=n, n_fork=n_fork, rounds=rounds, mixed_jobs=args.mixed_jobs,
                         mixed_rate=args.mixed_rate)  # fmt: skip
    finally:
        server.stop()
        drop_database()
    report(samples, PAIRS, found)


def report(samples: dict, pairs: dict, found: dict) -> None:
    print("medians:")
    for label, values in samples.items():
        print(f"  {label:<46} {median(values):>9.0f}/s   ({', '.join(f'{v:.0f}' for v in values)})")
    ratios = {
        name: median([a / b for a, b in zip(samples[top], samples[bottom], strict=True)])
        for name, (top, bottom) in pairs.items()
        if top in samples and bottom in samples
    }
    print("ratios (median of the paired samples): " + "  ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    targets = {"durable/rq enqueue": 0.5, "durable bulk/celery best bulk": 5.0}
    print(
        "durable enqueue targets: "
        + "  ".join(
            f"{k} {ratios[k]:.2f} (>= {t:g}x: {'met' if ratios[k] >= t else 'NOT met'})" for k, t in targets.items()
        )
    )
    if found:
        topology_report(found, os.cpu_count() or 1)


if __name__ == "__main__":
    main()
