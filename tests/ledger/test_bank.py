"""Jepsen-style bank test: concurrent submitters (single transfers and batches with linked chains), a resolver
and a batch submitter (a settler whenever it holds the accounts' locks) killed with SIGKILL, then every
invariant: money conserved, never negative, every acknowledged transfer exactly once, none pending, the
audit clean, and no linked chain half-applied."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time

from django.db.models import Sum

from ledger.models import Account, Transfer
from ledger.services import account_create, transfer_create
from tests.conftest import ROOT, run_manage

CUSTOMERS = 10
DEPOSIT = 1000
CLIENTS = 4
TRANSFERS_PER_CLIENT = 200


def test_bank_invariants_hold_under_concurrent_clients_batches_and_killed_settlers(child_env, tmp_path):
    seed = random.randrange(10**9)
    rng = random.Random(seed)
    bank = account_create(name="bank", kind=Account.Kind.SYSTEM)
    for i in range(CUSTOMERS):
        transfer_create(source=bank, target=account_create(name=f"c{i}"), amount=DEPOSIT)

    resolver = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "ledger_resolve", "--loop", "--interval", "0.002"],
        env=child_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert resolver.stdout.readline().startswith("Resolving pending transfers"), resolver.stderr.read()
    clients = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.ledger.bank_client", str(seed + n), str(count), str(tmp_path), mode],
            env=child_env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, (count, mode) in enumerate([(TRANSFERS_PER_CLIENT, "mixed")] * CLIENTS + [(10**6, "batches")])
    ]
    victim = clients.pop()  # sends batches until it is killed, settling whenever it holds the locks
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < CLIENTS + 1:  # all clients set up: release them at once
        assert time.monotonic() < deadline and all(c.poll() is None for c in clients), f"seed {seed}: clients failed"
        time.sleep(0.01)
    (tmp_path / "go").touch()
    # Kill the resolver, then the batch submitter, at random moments while the clients are busy.
    time.sleep(rng.uniform(0.05, 0.5))
    assert resolver.poll() is None, f"seed {seed}: the resolver ended early: {resolver.stderr.read()!r}"
    assert any(client.poll() is None for client in clients), f"seed {seed}: the clients were already done"
    resolver.send_signal(signal.SIGKILL)
    assert resolver.wait(timeout=10) == -signal.SIGKILL
    time.sleep(rng.uniform(0.05, 0.5))
    assert victim.poll() is None, f"seed {seed}: the batch submitter ended early: {victim.stderr.read()!r}"
    victim.send_signal(signal.SIGKILL)
    victim_out, _ = victim.communicate(timeout=10)
    assert victim.returncode == -signal.SIGKILL
    acknowledged = [json.loads(line) for line in victim_out.splitlines() if line.endswith("}")]

    records = []
    for client in clients:
        out, err = client.communicate(timeout=240)
        assert client.returncode == 0, f"seed {seed}: a client failed:\n{err}"
        records += [json.loads(line) for line in out.splitlines()]
    assert len(records) >= CLIENTS * TRANSFERS_PER_CLIENT
    records += acknowledged  # what the killed submitter was told before it died counts as acknowledged

    assert run_manage(child_env, "ledger_resolve").returncode == 0

    # No transfer is pending.
    assert not Transfer.objects.filter(status=Transfer.Status.PENDING).exists()
    statuses = dict(Transfer.objects.values_list("status").annotate(n=Sum(1)).values_list("status", "n"))
    assert statuses.get("successful", 0) > CUSTOMERS and statuses.get("rejected", 0) > 0, statuses

    # The total over the customer accounts equals the deposits; the system account paid them.
    customers = Account.objects.filter(kind=Account.Kind.CUSTOMER)
    assert customers.aggregate(total=Sum("balance"))["total"] == CUSTOMERS * DEPOSIT
    assert Account.objects.get(name="bank").balance == -CUSTOMERS * DEPOSIT
    assert all(account.balance >= 0 for account in customers)

    # Replaying the log in its settlement order never takes a customer below zero and ends at the balances.
    replay = dict.fromkeys(Account.objects.values_list("pk", flat=True), 0)
    kinds = dict(Account.objects.values_list("pk", "kind"))
    rows = Transfer.objects.order_by("settled_seq").values_list("source", "target", "amount", "status")
    for source, target, amount, status in rows:
        if status == Transfer.Status.SUCCESSFUL:
            replay[source] -= amount
            replay[target] += amount
            assert kinds[source] == "system" or replay[source] >= 0, f"seed {seed}: replay went below zero"
    assert replay == dict(Account.objects.values_list("pk", "balance"))

    # ledger_audit agrees.
    audit = run_manage(child_env, "ledger_audit")
    assert audit.returncode == 0, audit.stderr
    assert "Audit OK" in audit.stdout

    # A linked chain is never half-applied: its members share one chain id and one final status.
    chains: dict[str, set] = {}
    for record in records:
        if record["chain"] is not None:
            chains.setdefault(record["chain"], set()).update(record["ids"])
    assert chains, f"seed {seed}: no linked chain was sent"
    for label, ids in chains.items():
        members = Transfer.objects.filter(pk__in=ids)
        assert len({(t.chain, t.status) for t in members}) == 1, f"seed {seed}: chain {label} is half-applied"
        assert members.first().chain is not None
    for chain in Transfer.objects.exclude(chain=None).values_list("chain", flat=True).distinct():
        assert Transfer.objects.filter(chain=chain).values("status").distinct().count() == 1, f"seed {seed}"

    # Every key moved money at most once: one transfer per key, and every retry got the same transfer back.
    # The killed submitter may have inserted (and had settled) a batch it was never told about: those
    # keys are its own and are final like every other.
    by_key = dict(Transfer.objects.exclude(idempotency_key=None).values_list("idempotency_key", "pk"))
    victim_prefix = f"client{seed + CLIENTS}-"
    assert {r["key"] for r in records} <= set(by_key)
    assert all(key.startswith(victim_prefix) for key in set(by_key) - {r["key"] for r in records})
    retried = [r for r in records if len(r["ids"]) > 1]
    assert retried, f"seed {seed}: no client retried"
    for record in records:
        assert set(record["ids"]) == {by_key[record["key"]]}, f"seed {seed}: {record}"
        assert len(set(record["statuses"])) <= 1, f"seed {seed}: {record}"
    # ...and retrying them all once more now moves nothing.
    balances = dict(Account.objects.values_list("pk", "balance"))
    for record in retried:
        transfer = Transfer.objects.get(pk=record["ids"][0])
        try:
            again = transfer_create(
                source=transfer.source, target=transfer.target, amount=transfer.amount, idempotency_key=record["key"]
            )
            assert again.replayed and again.pk == transfer.pk
        except Exception as exc:  # a rejected original answers as rejected again
            assert getattr(exc, "transfer", None) is not None and exc.transfer.pk == transfer.pk
    assert dict(Account.objects.values_list("pk", "balance")) == balances
    assert Transfer.objects.count() == len(by_key) + CUSTOMERS
