"""Services: transfers settle oldest first, never below zero, idempotently, and serialised per account."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.models import Account, Transfer
from ledger.services import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidTransfer,
    account_create,
    transfer_create,
    transfer_submit,
    transfers_resolve,
)
from tests.conftest import ROOT, run_manage


def balances() -> dict[str, int]:
    return dict(Account.objects.values_list("name", "balance"))


def test_a_transfer_is_returned_settled_and_moves_the_money(funded):
    transfer = transfer_create(source=funded["alice"], target=funded["bob"], amount=300)
    assert transfer.status == Transfer.Status.SUCCESSFUL
    assert not transfer.replayed
    assert (transfer.source_balance, transfer.target_balance) == (700, 800)
    assert transfer.resolved is not None and transfer.settled_seq is not None
    assert balances() == {"bank": -1500, "alice-main": 700, "bob-main": 800}


def test_insufficient_funds_rejects_and_keeps_the_rejected_transfer_in_the_log(funded):
    with pytest.raises(InsufficientFunds) as info:
        transfer_create(source=funded["bob"], target=funded["alice"], amount=501)
    rejected = Transfer.objects.get(pk=info.value.transfer.pk)
    assert rejected.status == Transfer.Status.REJECTED
    assert rejected.reason == "insufficient funds" and rejected.source_balance == 500
    assert balances() == {"bank": -1500, "alice-main": 1000, "bob-main": 500}
    transfer_create(source=funded["bob"], target=funded["alice"], amount=500)  # exactly the balance is fine
    assert balances()["bob-main"] == 0


def test_a_system_account_may_pay_out_more_than_it_holds(bank, alice_account):
    transfer_create(source=bank, target=alice_account, amount=10**9)
    assert balances() == {"bank": -(10**9), "alice-main": 10**9}


def test_the_same_idempotency_key_returns_the_first_transfer_and_moves_money_once(funded):
    first = transfer_create(source=funded["alice"], target=funded["bob"], amount=100, idempotency_key="k-1")
    again = transfer_create(source=funded["alice"], target=funded["bob"], amount=100, idempotency_key="k-1")
    assert again.pk == first.pk and again.replayed
    assert balances()["alice-main"] == 900
    assert Transfer.objects.filter(idempotency_key="k-1").count() == 1


def test_a_replayed_key_of_a_rejected_transfer_is_rejected_again_without_a_new_row(funded):
    with pytest.raises(InsufficientFunds) as first:
        transfer_create(source=funded["bob"], target=funded["alice"], amount=900, idempotency_key="big")
    with pytest.raises(InsufficientFunds) as again:
        transfer_create(source=funded["bob"], target=funded["alice"], amount=900, idempotency_key="big")
    assert again.value.transfer.pk == first.value.transfer.pk
    assert Transfer.objects.count() == 3


def test_reusing_a_key_for_a_different_transfer_is_refused(funded):
    transfer_create(source=funded["alice"], target=funded["bob"], amount=100, idempotency_key="k-2")
    with pytest.raises(IdempotencyConflict, match="use a new key"):
        transfer_create(source=funded["alice"], target=funded["bob"], amount=101, idempotency_key="k-2")
    assert balances()["alice-main"] == 900


@pytest.mark.parametrize("amount", [0, -1, 1.5, "10", True, None, 10_000_000_01])
def test_bad_amounts_are_refused_before_anything_is_written(funded, amount):
    with pytest.raises(InvalidTransfer):
        transfer_create(source=funded["alice"], target=funded["bob"], amount=amount)
    assert Transfer.objects.count() == 2


def test_the_maximum_amount_is_a_setting(funded, settings):
    settings.LEDGER_MAX_TRANSFER_AMOUNT = 50
    with pytest.raises(InvalidTransfer, match="over the maximum of 50"):
        transfer_create(source=funded["alice"], target=funded["bob"], amount=51)
    transfer_create(source=funded["alice"], target=funded["bob"], amount=50)


def test_a_transfer_to_the_same_account_is_refused(funded):
    with pytest.raises(InvalidTransfer, match="same account"):
        transfer_create(source=funded["alice"], target=funded["alice"], amount=1)


def test_pending_transfers_are_settled_oldest_first(funded, pending_allowed):
    # alice (1000) sends 600, then 600, then bob (500) sends 300: oldest first, the second 600 must fail.
    first, _ = transfer_submit(source=funded["alice"], target=funded["bob"], amount=600)
    second, _ = transfer_submit(source=funded["alice"], target=funded["bob"], amount=600)
    third, _ = transfer_submit(source=funded["bob"], target=funded["alice"], amount=300)
    assert Transfer.objects.filter(status="pending").count() == 3
    assert transfers_resolve(up_to=second) == 2
    assert Transfer.objects.get(pk=third.pk).status == "pending"
    assert transfers_resolve() == 1
    settled = Transfer.objects.filter(pk__in=[first.pk, second.pk, third.pk]).order_by("settled_seq")
    assert [(t.pk, t.status) for t in settled] == [
        (first.pk, "successful"),
        (second.pk, "rejected"),
        (third.pk, "successful"),
    ]
    assert balances() == {"bank": -1500, "alice-main": 700, "bob-main": 800}
    assert transfers_resolve() == 0


def test_a_pending_transfer_committed_after_a_newer_one_was_settled_is_settled_on_the_current_balance(funded):
    newer = transfer_create(source=funded["bank"], target=funded["bob"], amount=100)
    # Inserted now but stamped before `newer`: a transaction that committed late.
    late_ok = Transfer.objects.create(
        source=funded["bob"], target=funded["alice"], amount=600, created=newer.created - timedelta(seconds=1)
    )
    late_too_much = Transfer.objects.create(
        source=funded["bob"], target=funded["alice"], amount=1, created=newer.created - timedelta(seconds=1)
    )
    assert transfers_resolve() == 2
    late_ok.refresh_from_db()
    late_too_much.refresh_from_db()
    assert late_ok.status == "successful" and late_ok.settled_seq > newer.settled_seq
    assert late_too_much.status == "rejected"
    assert balances() == {"bank": -1600, "alice-main": 1600, "bob-main": 0}


def test_a_balance_check_reads_the_checkpoint_not_a_sum_over_the_log(funded):
    with CaptureQueriesContext(connection) as queries:
        transfer_create(source=funded["alice"], target=funded["bob"], amount=10)
    assert not [q["sql"] for q in queries if "SUM(" in q["sql"].upper()]
    assert len(queries) <= 14


def test_the_recipes_sum_over_the_log_gives_the_same_decisions(funded, settings):
    settings.LEDGER_BALANCE_SOURCE = "log"
    with CaptureQueriesContext(connection) as queries:
        transfer_create(source=funded["alice"], target=funded["bob"], amount=1000)
    assert [q["sql"] for q in queries if "SUM(" in q["sql"].upper()]
    with pytest.raises(InsufficientFunds):
        transfer_create(source=funded["alice"], target=funded["bob"], amount=1)
    assert balances()["alice-main"] == 0


def test_accounts_are_created_with_a_checked_name(db):
    from django.core.exceptions import ValidationError

    assert account_create(name="ok.name-1").balance == 0
    for bad in ("", "has space", "<script>", "x" * 65, "ok.name-1"):
        with pytest.raises(ValidationError):
            account_create(name=bad)


# -- real processes ----------------------------------------------------------------------------
CHILD = """
import os, sys, time, django
django.setup()
from ledger.models import Account
from ledger.services import InsufficientFunds, transfer_create, transfer_submit
mode, gate = sys.argv[1], sys.argv[2]
alice, bob = Account.objects.get(name="alice-main"), Account.objects.get(name="bob-main")
if gate != "-":  # a barrier: say we are ready, then wait for the go
    open(os.path.join(gate, f"ready-{os.getpid()}"), "w").close()
    while not os.path.exists(os.path.join(gate, "go")):
        time.sleep(0.001)
if mode == "same-key":
    print(transfer_create(source=alice, target=bob, amount=400, idempotency_key="race").pk)
elif mode == "resolve":
    from ledger.services import transfers_resolve
    began = time.time()
    print(transfers_resolve(), began, time.time())
elif mode == "die-after-insert":
    transfer_submit(source=alice, target=bob, amount=250)
    os.kill(os.getpid(), 9)
"""


def spawn(child_env, *args):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *args], env=child_env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def spawn_together(child_env, mode, count, gate):
    """Start `count` children and release them at once, when all are ready."""
    children = [spawn(child_env, mode, str(gate)) for _ in range(count)]
    deadline = time.monotonic() + 60
    while len(list(gate.glob("ready-*"))) < count:
        assert time.monotonic() < deadline, "children did not get ready"
        assert all(child.poll() is None for child in children), [c.stderr.read() for c in children if c.poll()]
        time.sleep(0.01)
    (gate / "go").touch()
    return children


def test_racing_requests_with_one_key_get_one_transfer_and_move_money_once(child_env, user, other_user, tmp_path):
    from tests.ledger.conftest import fund_pair

    fund_pair(user, other_user)
    children = spawn_together(child_env, "same-key", 4, tmp_path)
    outputs = [child.communicate(timeout=60) for child in children]
    assert all(child.returncode == 0 for child in children), [err for _, err in outputs]
    ids = {int(out) for out, _ in outputs}
    assert len(ids) == 1
    assert Transfer.objects.filter(idempotency_key="race").count() == 1
    assert balances()["alice-main"] == 600


def test_concurrent_resolvers_never_approve_twice_against_the_same_balance(child_env, user, other_user, tmp_path):
    from tests.ledger.conftest import fund_pair

    alice, bob = fund_pair(user, other_user)
    for _ in range(200):
        transfer_submit(source=alice, target=bob, amount=10)  # alice holds 1000: only 100 can pass
    resolvers = spawn_together(child_env, "resolve", 4, tmp_path)
    counts, began, ended = [], [], []
    for resolver in resolvers:
        out, err = resolver.communicate(timeout=60)
        assert resolver.returncode == 0, err
        count, start_time, end_time = out.split()
        counts.append(int(count))
        began.append(float(start_time))
        ended.append(float(end_time))
    assert sum(counts) == 200  # each transfer settled by exactly one resolver (compare-and-set)
    assert max(began) < min(ended), (began, ended)  # all four were resolving at the same time
    statuses = list(Transfer.objects.filter(amount=10).values_list("status", flat=True))
    assert statuses.count("successful") == 100 and statuses.count("rejected") == 100
    assert balances()["alice-main"] == 0


def test_a_process_killed_between_insert_and_resolve_leaves_a_pending_transfer_the_resolver_settles(
    child_env, user, other_user
):
    from tests.ledger.conftest import fund_pair

    fund_pair(user, other_user)
    child = spawn(child_env, "die-after-insert", "-")
    child.communicate(timeout=60)
    assert child.returncode == -9
    assert Transfer.objects.get(status="pending").amount == 250
    result = run_manage(child_env, "ledger_resolve")
    assert result.returncode == 0 and "Settled 1 pending" in result.stdout
    assert balances()["alice-main"] == 750
