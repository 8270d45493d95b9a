"""Soak the whole site under load while injecting faults; check every invariant of issue 8 at the end.

    python bench/soak.py                      # 60 s, SQLite, every app, the issue's counts
    python bench/soak.py --db postgres        # on a PostgreSQL database of its own (created, then dropped)
    python bench/soak.py --short              # the 10 s CI version with reduced counts
    python bench/soak.py --apps chat,ledger   # only some apps' load and checks
    python bench/soak.py --nodes 2 --sentinel --db postgres   # two web nodes, a Sentinel set, a failover

It starts the site as `make run` does, but as processes it can kill (bench/soak_site.py): Redis with an
append-only file, 2 rq worker pools per queue with the scheduler (jobs_worker's default: a supervisor and
JOBS_WORKER_PROCESSES work processes), uvicorn with 2 workers. For ``--duration`` seconds it
drives at once chat SSE readers and posters, board long-poll watchers following a job's progress, a stream
of jobs, and ledger clients making transfers with idempotency keys (bench/soak_apps.py). Meanwhile it
restarts Redis once, SIGKILLs one rq worker pool with its work processes (mid-job when it can) and starts
it again, and SIGKILLs one
uvicorn worker (uvicorn's supervisor replaces it). Then it lets everything settle (bounded), checks and
prints every invariant, the p99 latency per endpoint and the 5xx answers outside the fault windows, and
exits 1 when an invariant breaks. Loopback only; every wait is bounded.

``--nodes N`` runs N web nodes (a uvicorn process each, on its own port) with the jobs workers on every node
and one rqcron, the clients spread over the nodes in turn; ``--sentinel`` puts Redis behind Sentinel (a
master, a replica, three sentinels) and replaces the Redis restart by the master's SIGKILL: the sentinels
fail over, and later the old master comes back as a replica. The report adds the failover's figures: kill
to the first successful Redis write, to the sentinels' agreement, to each write endpoint's first success
(bench/soak_nodes.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time

from soak_apps import BoardsLoad, ChatLoad, Check, Ctx, JobsLoad, LedgerLoad, SiteLoad
from soak_http import Stats, Window
from soak_nodes import NodesSite
from soak_site import Site

APPS = ("chat", "boards", "jobs", "ledger")
FULL = dict(
    duration=60, chat_rooms=5, chat_readers=200, chat_posters=20, chat_post_interval=1.0, board_watchers=1000,
    watch_timeout=10, job_clients=2, job_interval=1.5, ledger_clients=8, ledger_interval=0.3, deposit=10_000,
    settle=30, drain=90, fault_grace=5.0, ramp=5.0, recovery=10.0,
)  # fmt: skip
SHORT = dict(
    duration=10, chat_rooms=5, chat_readers=40, chat_posters=5, chat_post_interval=0.5, board_watchers=100,
    watch_timeout=5, job_clients=1, job_interval=0.5, ledger_clients=4, ledger_interval=0.2, deposit=10_000,
    settle=15, drain=60, fault_grace=3.0, ramp=1.0, recovery=5.0,
)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the 10 s CI version with reduced counts")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--apps", default=",".join(APPS), help="comma-separated subset of " + ",".join(APPS))
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument(
        "--rq-workers",
        type=int,
        default=None,
        help="jobs workers per queue (as run_site --rq-workers; default 2, with --nodes: 1 per node)",
    )
    parser.add_argument(
        "--fast-recovery", action=argparse.BooleanOptionalAction, default=None,
        help="start the jobs workers with short dead-worker timings (monitoring 2 s, grace 6 s, maintenance 3 s) so "
        "a SIGKILLed job is recovered within a short run; default on with --short, off otherwise",
    )  # fmt: skip
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="web nodes (uvicorn processes on their own ports), each with its own jobs workers",
    )
    parser.add_argument(
        "--sentinel",
        action="store_true",
        help="Redis behind Sentinel (master, replica, 3 "
        "sentinels); the 'master' fault SIGKILLs the master and later brings it back as a replica",
    )
    parser.add_argument(
        "--faults", default=None, help="faults to inject: redis,rq,web (--sentinel: master,rq,web; empty: none)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, database) afterwards")
    parser.add_argument("--json", help="also write the results to this file")
    helps = {
        "duration": "seconds of load", "chat_rooms": "chat rooms", "chat_readers": "SSE readers over the rooms",
        "chat_posters": "signed-in posters", "chat_post_interval": "seconds between a poster's posts (mean)",
        "board_watchers": "long-poll watchers on the progress board", "watch_timeout": "long-poll timeout (s)",
        "job_clients": "clients enqueueing jobs", "job_interval": "seconds between a job client's enqueues (mean)",
        "ledger_clients": "clients making transfers", "ledger_interval": "seconds between a ledger client's transfers",
        "deposit": "minor units deposited in each client's account", "settle": "max seconds for clients to catch up",
        "drain": "max seconds for jobs to settle after the load", "fault_grace": "seconds a fault window lasts "
        "after the site has recovered", "ramp": "clients start at random moments of the first RAMP seconds",
        "recovery": "the load goes on at least this many seconds after the last fault has recovered (a slow "
        "recovery on a loaded machine must still leave clients time to succeed again)",
    }  # fmt: skip
    for name, default in FULL.items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=None, help=helps[name])
    args = parser.parse_args(argv)
    base = SHORT if args.short else FULL
    drain_given = args.drain is not None
    if args.fast_recovery is None:
        args.fast_recovery = args.short
    for name, default in base.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    args.apps = [app.strip() for app in args.apps.split(",") if app.strip()]
    if args.faults is None:
        args.faults = "master,rq,web" if args.sentinel else "redis,rq,web"
    args.faults = [fault.strip() for fault in args.faults.split(",") if fault.strip()]
    if not drain_given and {"redis", "master"} & set(args.faults):
        # A job acknowledged while Redis went down (its push after commit refused) or that Redis lost in a
        # failover is pushed again by the reconciler: JOBS_RECONCILE_GRACE (60 s) after its enqueue, on its
        # next periodic round (every 60 s). Draining returns as soon as every job has settled.
        args.drain = max(args.drain, 150)
    known = {"master", "rq", "web"} if args.sentinel else {"redis", "rq", "web"}
    if set(args.faults) - known:
        parser.error(f"unknown fault(s) {sorted(set(args.faults) - known)}: choose from {','.join(sorted(known))}")
    if args.rq_workers is None:  # per queue on each node: as many for the site as one node has by default
        args.rq_workers = 1 if args.nodes > 1 else 2
    unknown = set(args.apps) - set(APPS)
    if unknown:
        parser.error(f"unknown app(s) {sorted(unknown)}: choose from {','.join(APPS)}")
    return args


async def inject_faults(ctx: Ctx, site: Site, jobs: JobsLoad | None, boards: BoardsLoad | None, log) -> None:
    """Restart Redis, SIGKILL an rq worker (and restart it), SIGKILL a web worker, spread over the run."""
    args, stats = ctx.args, ctx.stats
    loop = asyncio.get_running_loop()
    plan = [(0.25, "redis", "redis restart"), (0.25, "master", "Redis master SIGKILL"),
            (0.45, "rq", "rq worker SIGKILL"), (0.55, "master", "old master back"),
            (0.65, "web", "web worker SIGKILL")]  # fmt: skip
    old_master, back = None, None
    for fraction, key, name in plan:
        if key not in args.faults:
            continue
        await asyncio.sleep(max(0.0, stats.t0 + fraction * args.duration - time.monotonic()))
        if name == "old master back":  # not a fault window: the site must not notice it
            back = asyncio.create_task(master_back(ctx, site, old_master, log))
            continue
        window = Window(name, time.monotonic())
        stats.windows.append(window)
        if name == "Redis master SIGKILL":
            killed_at = window.start
            old_master = await loop.run_in_executor(None, site.kill_master)
            ctx.killed_at = killed_at
            write = await loop.run_in_executor(None, lambda: site.first_redis_write(killed_at))
            await loop.run_in_executor(None, site.wait_failover)
            agreed = time.monotonic() - killed_at
            ctx.failover.update({"kill -> first successful Redis write": write, "kill -> sentinels agree": agreed})
            log(
                f"fault: Redis master SIGKILLed; first successful write after {write:.1f} s, sentinels agreed "
                f"on the new master after {agreed:.1f} s"
            )
        elif name == "redis restart":
            took = await loop.run_in_executor(None, lambda: site.restart_redis(down_for=1.0))
            log(f"fault: Redis stopped and started again in {took:.1f} s")
        elif name == "rq worker SIGKILL":
            avoid = {boards.notifier_job} if boards and boards.notifier_job else set()
            worker, job = await loop.run_in_executor(None, lambda: site.kill_rq_worker(avoid_jobs=avoid))
            if jobs is not None:
                jobs.killed_job = job
            log(f"fault: rq worker {worker} SIGKILLed (running job {job or 'none'}) and started again")
        else:
            took = await loop.run_in_executor(None, site.kill_web_worker)
            log(f"fault: a uvicorn worker SIGKILLed; replaced by the supervisor in {took:.1f} s")
        ctx.last_fault_end = time.monotonic()  # recovered: clients must succeed again after this
        window.end = ctx.last_fault_end + args.fault_grace
    if back is not None:
        await back


async def master_back(ctx: Ctx, site: Site, old_master, log) -> None:
    """Start the killed master again, empty; the sentinels make it a replica (in the background: it takes a
    while, and the other faults keep their times)."""
    took = await asyncio.get_running_loop().run_in_executor(None, lambda: site.master_back_as_replica(old_master))
    ctx.failover["old master back to replicating"] = took
    log(f"fault: the old master is back, empty, and replicates the new one after {took:.1f} s")


async def watch_processes(ctx: Ctx, site: Site) -> None:
    while True:
        await asyncio.sleep(1)
        site.check_processes()


async def run_load(args, site: Site, setup: dict, log) -> tuple[list[Check], Stats]:
    stats = Stats()
    ctx = Ctx("127.0.0.1", site.port, stats, args, setup, site, ports=list(getattr(site, "ports", [])))
    jobs = JobsLoad(ctx) if "jobs" in args.apps else None
    parts: list = [SiteLoad(ctx)]
    if "chat" in args.apps:
        parts.append(ChatLoad(ctx))
    boards = BoardsLoad(ctx, jobs) if "boards" in args.apps else None
    if boards:
        parts.append(boards)
    if jobs:
        parts.append(jobs)
    if "ledger" in args.apps:
        parts.append(LedgerLoad(ctx))
    for part in parts:
        part.start()
    watcher = asyncio.create_task(watch_processes(ctx, site))
    faults = asyncio.create_task(inject_faults(ctx, site, jobs, boards, log)) if args.faults else None
    await asyncio.sleep(args.duration)
    if faults is not None:
        await faults
        await asyncio.sleep(max(0.0, ctx.last_fault_end + args.recovery - time.monotonic()))
    ctx.stop.set()
    log(f"load stopped after {time.monotonic() - stats.t0:.1f} s; letting clients settle")
    await asyncio.gather(*(part.finish() for part in parts))
    watcher.cancel()
    checks = [check for part in parts for check in part.check()]
    if len(ctx.ports) > 1:
        spread = ", ".join(f"port {port}: {n}" for port, n in sorted(ctx.clients_per_port.items()))
        checks.append(Check("site", "(info) clients per web node", True, spread))
    if ctx.killed_at:
        checks.append(failover_check(ctx, stats))
    return checks, stats


def failover_check(ctx: Ctx, stats: Stats) -> Check:
    """The failover's figures: the probes' and each write endpoint's first success after the kill."""
    figures = dict(ctx.failover)
    for t, label, status in sorted(stats.statuses):
        if t > ctx.killed_at and label.startswith("POST") and 200 <= status < 300:
            figures.setdefault(f"kill -> first {status} of {label}", t - ctx.killed_at)
    ctx.failover = figures
    return Check("site", "(info) Sentinel failover, seconds from the master's SIGKILL", True,
                 "; ".join(f"{name} {value:.2f}" for name, value in figures.items()))  # fmt: skip


def site_checks(site: Site, stats: Stats, *, enforce_workers: bool) -> list[Check]:
    outside, inside = stats.server_errors()
    web_exits = [what for kind, what in site.unexpected_exits if kind == "web"]
    worker_exits = [what for kind, what in site.unexpected_exits if kind == "worker"]
    workers_name = "no rq worker or rqcron exited unless killed on purpose"
    if not enforce_workers:
        workers_name = "(info) " + workers_name
    t_out, t_in = stats.transport_errors()
    status, health = site.wait_healthy(timeout=30)
    failing = [name for name, check in health.get("checks", {}).items() if not check.get("ok")]
    return [
        Check("site", "GET /health is 200 after the load and the faults (every part recovered)", status == 200,
              f"{status}" + (f"; failing: {', '.join(failing)}" if failing else "")),
        Check("site", "no 5xx answer outside the fault windows", not outside,
              f"outside: {outside or 0}; inside the fault windows: {inside or 0}"),
        Check("site", "(info) transport errors (refused, reset, timeout)", True,
              f"outside the fault windows: {t_out or 0}; inside: {t_in or 0}"),
        Check("site", "the web server never exited", not web_exits, "; ".join(web_exits)),
        Check("jobs", workers_name, not worker_exits or not enforce_workers,
              "; ".join(worker_exits) + ("" if enforce_workers or not worker_exits else
                                         " (not enforced: the jobs part is off; restarted by the soak)")),
    ]  # fmt: skip


def report(args, checks: list[Check], stats: Stats, timings: dict, log) -> bool:
    log("")
    topology = f"{args.nodes} web nodes, " if args.nodes > 1 else ""
    topology += "Redis Sentinel, " if args.sentinel else ""
    log(f"== invariants ({topology}{args.db}, apps {','.join(args.apps)}, {args.duration} s of load)")
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        log(f"[{mark}] {check.app:7} {check.name}" + (f": {check.detail}" if check.detail else ""))
    log("")
    log("== latency per endpoint in ms of the requests not in flight during a fault window (last column: p99")
    log("   of all, faults included); a long-poll or SSE stream counts until its answer starts")
    log(f"{'endpoint':56} {'count':>7} {'p50':>8} {'p99':>8} {'max':>8} {'p99 all':>8}")
    for label, count, p50, p99, top, p99_all in stats.percentiles():
        log(f"{label:56} {count:7d} {p50 * 1000:8.1f} {p99 * 1000:8.1f} {top * 1000:8.1f} {p99_all * 1000:8.1f}")
    windows = ", ".join(f"{w.name} {w.start - stats.t0:.1f}-{w.end - stats.t0:.1f} s" for w in stats.windows)
    log(f"   fault windows (from the start of the load): {windows or 'none'}")
    log("")
    log("== timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return all(check.ok for check in checks)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()

    def log(line: str) -> None:
        print(line, flush=True)

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    worker_options = []
    if args.fast_recovery:
        worker_options = ["--monitoring-interval", "2", "--heartbeat-grace", "6", "--maintenance-interval", "3"]
    options = dict(db=args.db, web_workers=args.web_workers, rq_workers=args.rq_workers,
                   worker_options=worker_options, keep=args.keep)  # fmt: skip
    site = (
        NodesSite(nodes=args.nodes, sentinel=args.sentinel, **options)
        if args.nodes > 1 or args.sentinel
        else Site(**options)
    )
    timings: dict[str, float] = {}
    ok = False
    try:
        log(f"soak: starting the site on {site.base_url} ({args.db}; work directory {site.workdir})")
        site.start()
        timings["site start"] = time.monotonic() - started
        spec = {
            "apps": args.apps, "rooms": args.chat_rooms, "posters": args.chat_posters,
            "job_clients": args.job_clients, "ledger_clients": args.ledger_clients, "deposit": args.deposit,
        }  # fmt: skip
        setup = site.django_side("setup", spec)
        timings["setup"] = time.monotonic() - started - timings["site start"]
        log(f"soak: load for {args.duration} s: {describe_load(args)}")
        load_started = time.monotonic()
        checks, stats = asyncio.run(run_load(args, site, setup, log))
        timings["load and settle"] = time.monotonic() - load_started
        checks += site_checks(site, stats, enforce_workers="jobs" in args.apps)
        timings["total"] = time.monotonic() - started
        ok = report(args, checks, stats, timings, log)
        if args.json:
            write_json(args, checks, stats, timings)
        if not ok:
            webs = [f"web{n + 1}" for n in range(args.nodes)] if isinstance(site, NodesSite) else ["web"]
            for name in [*webs, "cron", *(name for name, _ in site.worker_specs)]:
                log(f"-- last lines of {name}.log\n{site.log_tail(name)}")
    finally:
        site.stop()
    log(f"soak: {'PASSED' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


def describe_load(args) -> str:
    parts = ["site clients"]
    if "chat" in args.apps:
        parts.append(f"{args.chat_readers} SSE readers over {args.chat_rooms} rooms, {args.chat_posters} posters")
    if "boards" in args.apps:
        parts.append(f"{args.board_watchers} board watchers")
    if "jobs" in args.apps:
        parts.append(f"{args.job_clients} job clients")
    if "ledger" in args.apps:
        parts.append(f"{args.ledger_clients} ledger clients")
    return "; ".join(parts) + f"; faults: {','.join(args.faults) or 'none'}"


def write_json(args, checks: list[Check], stats: Stats, timings: dict) -> None:
    outside, inside = stats.server_errors()
    data = {
        "args": vars(args),
        "checks": [vars(c) for c in checks],
        "latency": [
            {"endpoint": label, "count": n, "p50": p50, "p99": p99, "max": top, "p99_with_faults": p99_all}
            for label, n, p50, p99, top, p99_all in stats.percentiles()
        ],
        "slow_requests": {  # when the slowest answers started (seconds from the start of the load)
            label: sorted(round(started - stats.t0, 1) for started, latency in values if latency > 1.0)
            for label, values in stats.latencies.items()
        },
        "fault_windows": [(w.name, round(w.start - stats.t0, 1), round(w.end - stats.t0, 1)) for w in stats.windows],
        "5xx_outside": outside,
        "5xx_inside": inside,
        "timings": timings,
    }
    with open(args.json, "w") as handle:
        json.dump(data, handle, indent=2, default=str)


if __name__ == "__main__":
    sys.exit(main())
