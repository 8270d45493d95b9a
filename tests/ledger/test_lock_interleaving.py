"""A forced interleaving: a settlement that waits for the sender's lock decides on the balance committed meanwhile.

A second connection settles a batch (a debit of the sender) inside a transaction it holds open; another
batch settlement starts and must wait (on PostgreSQL we see it waiting on a lock in pg_stat_activity:
the settler lock, and behind it the account rows; on SQLite the immediate transaction waits for the
write lock). The debit is committed, the waiting settlement goes on, and it must decide on the
committed balance (300), not on the balance it could have read before (1000), and must leave the
debit, pending when it started, to the batch that settled it. Without the locks it reads the debit as
pending and the stale balance, and its compare-and-set finds the debit settled under it
(SettlementConflict; SQLite: the write lock it cannot take): the test fails every time (no timing
luck: the interleaving is held, not hoped for).
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import close_old_connections, connection, transaction

from ledger import batch
from ledger.models import Account, Transfer
from ledger.selectors import ledger_audit
from ledger.services import account_create, transfer_submit, transfers_resolve
from tests.ledger.conftest import fund_pair

pytestmark = pytest.mark.django_db(transaction=True)


def _lock_waiters() -> int:
    """Sessions of this database waiting on a lock (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _wait_for(condition, *, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_a_settlement_waiting_for_the_senders_lock_decides_on_the_balance_committed_meanwhile(user, other_user):
    alice, bob = fund_pair(user, other_user)  # alice holds 1000
    first, _ = transfer_submit(source=alice, target=bob, amount=700)
    second, _ = transfer_submit(source=alice, target=bob, amount=600)

    debited, release = threading.Event(), threading.Event()
    about_to_lock = threading.Event()
    outcome: dict[str, object] = {}

    def holder() -> None:
        try:
            with transaction.atomic():  # holds the accounts' locks (SQLite: the write lock) until released
                outcome["first"] = batch.settle_batch(limit=1)  # the oldest: the debit of 700
                debited.set()
                assert release.wait(60), "the test never released the lock holder"
        except BaseException as exc:  # reported to the test thread
            outcome["holder_error"] = exc
            debited.set()
        finally:
            close_old_connections()
            connection.close()

    def waiter() -> None:
        def signal_lock(execute, sql, params, many, context):
            if "pg_advisory_xact_lock" in sql or ("ledger_account" in sql and sql.lstrip().startswith("SELECT")):
                about_to_lock.set()
            return execute(sql, params, many, context)

        if connection.vendor == "sqlite":
            about_to_lock.set()  # BEGIN IMMEDIATE is the lock: it is taken on entering the transaction
        try:
            with connection.execute_wrapper(signal_lock):
                outcome["second"] = batch.settle_batch(limit=10)  # reads both as pending, then waits
        except BaseException as exc:
            outcome["waiter_error"] = exc
        finally:
            connection.close()

    holding = threading.Thread(target=holder)
    waiting = threading.Thread(target=waiter)
    holding.start()
    try:
        assert debited.wait(30)
        assert "holder_error" not in outcome, outcome
        waiting.start()
        assert about_to_lock.wait(30)
        if connection.vendor == "postgresql":
            _wait_for(lambda: _lock_waiters() >= 1, what="the settlement to wait on the settler or the sender's lock")
        else:
            time.sleep(0.3)  # SQLite shows no waiters; the write lock is held, so it cannot have finished
        assert waiting.is_alive(), "the settlement did not wait for the account lock held by the other settlement"
    finally:
        release.set()  # whatever happened, let the holder commit so teardown does not wait on its lock
        holding.join(30)
        if waiting.ident is not None:
            waiting.join(30)

    assert "holder_error" not in outcome and "waiter_error" not in outcome, outcome
    assert [(d.pk, d.status) for d in outcome["first"]] == [(first.pk, "successful")]
    [decision] = outcome["second"]  # only the transfer still pending once it held the lock
    assert (decision.pk, decision.status) == (second.pk, "rejected"), decision
    assert (decision.reason, decision.source_balance) == ("insufficient funds", 300)  # decided on 300, not 1000
    assert Account.objects.get(pk=alice.pk).balance == 300
    assert Transfer.objects.get(pk=second.pk).status == Transfer.Status.REJECTED
    assert ledger_audit().ok


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hot_accounts_under_concurrent_settlement_never_go_negative_and_replay_exactly(user, other_user, seed):
    """Few accounts (hot spots), many transfers between them, four settling threads: audit replays every decision."""
    rng = random.Random(seed)
    alice, bob = fund_pair(user, other_user)
    carol = account_create(name="carol-main")
    accounts = [alice, bob, carol]
    for _ in range(60):
        source, target = rng.sample(accounts, 2)
        transfer_submit(source=source, target=target, amount=rng.randint(1, 400))

    errors: list[BaseException] = []

    def settle_all() -> None:
        try:
            transfers_resolve()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=settle_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert not Transfer.objects.filter(status=Transfer.Status.PENDING).exists()
    assert all(account.balance >= 0 for account in Account.objects.filter(kind=Account.Kind.CUSTOMER))
    report = ledger_audit()
    assert report.ok, report.problems
