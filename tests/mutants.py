"""Targeted mutants: break one guarantee on purpose and check the tests that guard it fail, every time.

python -m tests.mutants [--runs 3] [--jobs 2] [--only NAME ...] [--list]   (`make mutants`; CI: SQLite and PostgreSQL)

Each mutant names the guarantee it breaks, the exact edits that break it (each edit's text must occur
exactly once in its file, so a mutant that no longer applies is an error, never a silent pass) and the
tests that guard it. For each mutant the runner copies the tree to a temporary folder, applies the
edits, and runs the guarding tests ``--runs`` times: the mutant is killed only if every run fails
(pytest exit code 1: a test failed, not an import or usage error). Before any mutant, the guards run
once on the unmodified tree and must pass, so a kill means the guarantee broke, not the test.
The environment (DATABASE_URL, REDIS_URL) is passed on, so the same mutants run on both databases.

``--jobs`` pytest runs go side by side (default 2: the whole set then takes under 5 minutes on 2 cores).
Each run starts its own Redis (the suite does when REDIS_URL is unset; with REDIS_URL set, runs go one at
a time) and its own SQLite test database; on PostgreSQL each place gets a database name of its own
(``<name>_m0``, ``<name>_m1``: the suite creates ``test_<name>_m0``...).
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Edit:
    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Mutant:
    name: str
    guarantee: str
    edits: tuple[Edit, ...]
    guards: tuple[str, ...]


LOCK_TEST = (
    "tests/ledger/test_lock_interleaving.py::"
    "test_a_settlement_waiting_for_the_senders_lock_decides_on_the_balance_committed_meanwhile"
)
ROLLBACK_TEST = "tests/chat/test_concurrency.py::test_a_post_rolled_back_after_a_reader_subscribed_is_never_delivered"
HISTORY_KILLS_TEST = (
    "tests/jobs/test_history_kills.py::"
    "test_a_worker_killed_at_each_step_of_the_history_write_leaves_each_job_recorded_once"
)
KILLED_WRITER_TEST = (
    "tests/chat/test_concurrency.py::test_a_writer_killed_inside_its_transaction_leaves_no_hole_and_no_phantom"
)

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        name="no-account-lock",
        guarantee="ledger: two settlements never approve against the same balance",
        edits=(
            # PostgreSQL: the accounts' row locks and the settler lock (either alone keeps batch settlers apart).
            Edit("ledger/batch.py", ".select_for_update(no_key=True)", ""),
            Edit(
                "ledger/batch.py",
                'if connection.vendor == "postgresql" and not _settler_lock(wait=wait):',
                "if False:",
            ),
            # SQLite's lock is the immediate transaction (the write lock taken at BEGIN).
            Edit("config/env.py", '"transaction_mode": "IMMEDIATE"', '"transaction_mode": "DEFERRED"'),
        ),
        guards=(LOCK_TEST,),
    ),
    Mutant(
        name="publish-before-commit",
        guarantee="chat: a message is published only after its transaction commits",
        edits=(
            Edit(
                "chat/services.py",
                "transaction.on_commit(lambda: message_publish(channel=channel, data=envelope.data), robust=True)",
                "message_publish(channel=channel, data=envelope.data)",
            ),
        ),
        guards=(ROLLBACK_TEST, KILLED_WRITER_TEST),
    ),
    Mutant(
        name="hub-delivery-off",
        guarantee="chat: live readers get each message through the hub, not through the idle check",
        edits=(
            Edit(
                "switchboard/hub.py",
                "                    for sub in state.subs:\n                        sub._offer(messages)",
                "                    pass",
            ),
        ),
        # The hub's own test: it fails within its 5 s wait, where ROLLBACK_TEST (which catches this
        # mutant too, with its 30 s idle check) waits out its readers' deadlines, over 30 s per run.
        guards=("tests/site/test_hub.py::test_subscribe_returns_only_once_redis_confirmed_it",),
    ),
    Mutant(
        name="no-sequence-jump-backfill",
        guarantee="chat: a jump in sequence is backfilled from the database at once",
        edits=(
            Edit(
                "chat/selectors.py",
                "                if envelope.seq != last + 1 or need_db:\n"
                "                    need_db = True  # a jump: messages were published we did not hear\n"
                "                    continue\n",
                "",
            ),
        ),
        guards=("tests/chat/test_selectors.py::test_a_jump_in_sequence_is_backfilled_from_the_database_at_once",),
    ),
    Mutant(
        name="direct-write-ignores-jump",
        guarantee="chat: a sequence jump heard by the hub's direct writer hands over to the database catch-up",
        edits=(
            Edit(
                "chat/selectors.py",
                "            if envelope.seq != seq + 1:\n"
                "                return False  # a jump: the task reads the database\n",
                "",
            ),
        ),
        guards=("tests/chat/test_fanout.py::test_a_jump_heard_by_the_direct_writer_is_backfilled_at_once_not_skipped",),
    ),
    Mutant(
        name="notify-not-atomic",
        guarantee="boards: a board holds the value published with its version (store and publish in one script)",
        edits=(
            Edit(
                "boards/services.py",
                '    version, is_new = client.eval(_NOTIFY_LUA, 3, *keys, encoded, name, "1" if private else "")\n',
                '    version = client.hincrby(keys[0], "version", 1)\n'
                '    client.hset(keys[0], "value", encoded)\n'
                "    if private:\n"
                '        client.hset(keys[0], "private", "1")\n'
                '    client.publish(keys[1], f"{version}\\n{encoded}")\n'
                "    is_new = client.sadd(keys[2], name)\n",
            ),
        ),
        guards=(
            "tests/boards/test_interleavings.py::"
            "test_racing_notifies_leave_the_board_holding_the_value_published_with_its_version",
        ),
    ),
    Mutant(
        name="subscribe-after-read",
        guarantee="boards: a watcher subscribes before it reads, so a notify right after its read wakes it",
        edits=(
            Edit(
                "boards/selectors.py",
                "    async with hub.subscribe(board_channel(name)) as sub:\n"
                "        state = await _checked(await board_state_async(name=name), may_read)\n",
                "    state = await _checked(await board_state_async(name=name), may_read)\n"
                "    async with hub.subscribe(board_channel(name)) as sub:\n",
            ),
        ),
        guards=("tests/boards/test_interleavings.py::test_a_notify_right_after_the_watchers_read_wakes_it_at_once",),
    ),
    Mutant(
        name="history-outside-rq-transaction",
        guarantee="jobs: a run's history events are written in rq's own transactions (start, success)",
        edits=(
            # Each event is pushed on its own, at once, instead of in the transaction rq is building.
            Edit(
                "jobs/worker.py",
                "execution_id=self._execution_id, pipeline=pipeline)",
                "execution_id=self._execution_id)",
            ),
            Edit(
                "jobs/worker.py",
                "run_record_finished(job=job, execution_id=execution_id, pipeline=pipeline)",
                "run_record_finished(job=job, execution_id=execution_id)",
            ),
        ),
        guards=(HISTORY_KILLS_TEST,),
    ),
    Mutant(
        name="no-idempotency-key-check",
        guarantee="ledger: requests with one idempotency key make one transfer, even when they race",
        edits=(
            # The key is looked up before the insert, and nothing in the database stops a second insert.
            Edit(
                "ledger/migrations/0003_idempotency_key_per_source.py",
                "        migrations.AddConstraint(\n"
                '            model_name="transfer",\n'
                "            constraint=models.UniqueConstraint(\n"
                '                fields=("source", "idempotency_key"), name="ledger_transfer_key_per_source"\n'
                "            ),\n"
                "        ),\n",
                "",
            ),
            Edit(
                "ledger/settlement.py",
                "    with connection.cursor() as cursor:\n"
                "        cursor.execute(\n"
                '            "INSERT INTO ledger_transfer (source_id, target_id, amount, status, created, revision,'
                ' idempotency_key,"\n',
                "    with connection.cursor() as cursor:\n"
                '        cursor.execute("SELECT 1 FROM ledger_transfer WHERE source_id = %s AND idempotency_key = %s",'
                " [source_id, key])\n"
                "        if cursor.fetchone() is not None:\n"
                "            return None\n"
                "        cursor.execute(\n"
                '            "INSERT INTO ledger_transfer (source_id, target_id, amount, status, created, revision,'
                ' idempotency_key,"\n',
            ),
            Edit(
                "ledger/settlement.py",
                " ON CONFLICT (source_id, idempotency_key) DO NOTHING RETURNING id",
                " RETURNING id",
            ),
        ),
        guards=("tests/ledger/test_idempotency_interleaving.py",),
    ),
    Mutant(
        name="no-chain-guard",
        guarantee="ledger: a transfer's linked chain never changes once inserted, not even by its settling update",
        edits=(
            Edit("ledger/migrations/0005_chain_is_immutable.py", " AND NEW.chain IS OLD.chain", ""),
            Edit("ledger/migrations/0005_chain_is_immutable.py", " OR NEW.chain IS DISTINCT FROM OLD.chain", ""),
        ),
        guards=(
            "tests/ledger/test_models.py::test_the_database_trigger_refuses_a_settling_update_that_changes_the_chain",
        ),
    ),
)


def copy_tree(destination: Path) -> None:
    """The files git knows (tracked, and untracked but not ignored), as they are in the working tree."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        relative = raw.decode()
        source = ROOT / relative
        if not source.is_file():
            continue  # deleted in the working tree
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def apply(mutant: Mutant, tree: Path) -> None:
    for edit in mutant.edits:
        path = tree / edit.path
        text = path.read_text()
        count = text.count(edit.old)
        if count != 1:
            raise SystemExit(
                f"mutant {mutant.name}: the text to change occurs {count} times in {edit.path} (expected once);"
                " the code moved: update tests/mutants.py"
            )
        path.write_text(text.replace(edit.old, edit.new))


def slot_env(slot: int, jobs: int) -> dict[str, str]:
    """The environment of runs in ``slot``: runs side by side must not share a PostgreSQL test database."""
    env = dict(os.environ)
    url = env.get("DATABASE_URL", "")
    if jobs > 1 and url.startswith("postgres"):
        base, _, query = url.partition("?")
        env["DATABASE_URL"] = f"{base.rstrip('/')}_m{slot}" + (f"?{query}" if query else "")
    return env


def run_guards(tree: Path, guards: tuple[str, ...], env: dict[str, str]) -> tuple[int, str, float]:
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *guards],
        cwd=tree,
        env={**env, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
    )
    return result.returncode, result.stdout[-3000:] + result.stderr[-2000:], time.monotonic() - began


class Slots:
    """``jobs`` places to run pytest in; a run takes one and gives it back (its environment is the slot's)."""

    def __init__(self, jobs: int) -> None:
        self.jobs, self.free = jobs, queue.Queue()
        for slot in range(jobs):
            self.free.put(slot)

    def run(self, tree: Path, guards: tuple[str, ...]) -> tuple[int, str, float]:
        slot = self.free.get()
        try:
            return run_guards(tree, guards, slot_env(slot, self.jobs))
        finally:
            self.free.put(slot)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per mutant; every run must fail (default 3)")
    parser.add_argument("--only", nargs="*", default=None, help="names of the mutants to run")
    parser.add_argument("--jobs", type=int, default=2, help="pytest runs side by side (default 2)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if args.only is None or m.name in args.only]
    if args.list or not chosen:
        for mutant in MUTANTS:
            print(f"{mutant.name:32} {mutant.guarantee}")
        return 0 if args.list else 2

    database = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    jobs = max(1, args.jobs)
    if os.environ.get("REDIS_URL") and jobs > 1:
        jobs = 1  # one Redis for all: runs side by side would share its queues, channels and boards
        print("REDIS_URL is set: one run at a time (unset it and each run starts a private Redis)")
    print(f"mutants: {len(chosen)} on {database}, {args.runs} runs each, {jobs} side by side", flush=True)
    began = time.monotonic()
    slots, printing = Slots(jobs), threading.Lock()

    def report(line: str, output: str = "") -> None:
        with printing:
            print(line, output, sep="\n" if output else "", flush=True)

    with tempfile.TemporaryDirectory(prefix="sb-mutants-") as scratch:
        clean = Path(scratch) / "clean"
        copy_tree(clean)
        trees = {}
        for mutant in chosen:  # every mutant applies, or nothing runs
            trees[mutant.name] = Path(scratch) / mutant.name
            shutil.copytree(clean, trees[mutant.name])
            apply(mutant, trees[mutant.name])

        def unmodified() -> bool:
            guards = tuple(dict.fromkeys(g for m in chosen for g in m.guards))
            code, output, took = slots.run(clean, guards)
            if code != 0:
                report(f"  the guarding tests fail on the unmodified tree (exit {code}): fix them first", output)
                return False
            report(f"  guards pass on the unmodified tree ({took:.0f} s)")
            return True

        def killed(mutant: Mutant) -> bool:
            outcomes = []
            for _ in range(args.runs):
                code, output, took = slots.run(trees[mutant.name], mutant.guards)
                outcomes.append((code, took))
                if code != 1:
                    break
            dead = len(outcomes) == args.runs and all(code == 1 for code, _ in outcomes)
            runs = ", ".join(f"exit {code} in {took:.0f} s" for code, took in outcomes)
            verdict = "killed" if dead else ("SURVIVED" if outcomes[-1][0] == 0 else "ERROR")
            report(f"  {verdict:8} {mutant.name:32} {mutant.guarantee} ({runs})", "" if dead else output)
            shutil.rmtree(trees[mutant.name], ignore_errors=True)
            return dead

        # The clean run is judged like the others, at the end: a kill counts only if the guards pass without it.
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            clean_ok = pool.submit(unmodified)
            verdicts = {mutant.name: pool.submit(killed, mutant) for mutant in chosen}
            failed = [name for name, verdict in verdicts.items() if not verdict.result()]
            guards_pass = clean_ok.result()
    took = f"in {time.monotonic() - began:.0f} s"
    if not guards_pass:
        print(f"the guarding tests fail on the unmodified tree: no verdict ({took})")
        return 1
    if failed:
        print(f"mutants not killed in every run: {', '.join(failed)} ({took})")
        return 1
    print(f"all {len(chosen)} mutants killed in {args.runs} of {args.runs} runs ({took})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
