"""The SQL hot path: insert with a unique key, pending in order, compare-and-set settlement."""

from __future__ import annotations

from django.utils import timezone

from ledger import settlement
from ledger.models import Transfer


def insert(funded, amount, key=None):
    return settlement.insert_pending(
        source_id=funded["alice"].pk, target_id=funded["bob"].pk, amount=amount, key=key, created=timezone.now()
    )


def test_a_second_insert_with_the_same_key_inserts_nothing(funded, pending_allowed):
    first = insert(funded, 5, key="same")
    assert first is not None
    assert insert(funded, 5, key="same") is None
    assert insert(funded, 5) is not None and insert(funded, 5) is not None  # no key: never a conflict
    assert Transfer.objects.filter(idempotency_key="same").get().pk == first


def test_pending_come_in_created_order_up_to_and_after_a_point(funded, pending_allowed):
    ids = [insert(funded, n) for n in (1, 2, 3, 4)]
    rows = settlement.pending_batch(up_to=None, after=None, limit=10)
    assert [row.pk for row in rows] == ids
    third = rows[2]
    assert [r.pk for r in settlement.pending_batch(up_to=(third.created, third.pk), after=None, limit=10)] == ids[:3]
    first = rows[0]
    assert [r.pk for r in settlement.pending_batch(up_to=None, after=(first.created, first.pk), limit=2)] == ids[1:3]


def test_settle_decides_once_and_a_second_settle_of_the_same_row_is_refused(funded):
    pk = insert(funded, 600)
    [row] = settlement.pending_batch(up_to=None, after=None, limit=10)
    decision = settlement.settle(row, balance_from_log=False, now=timezone.now())
    assert decision.status == "successful" and (decision.source_balance, decision.target_balance) == (400, 1100)
    assert settlement.settle(row, balance_from_log=False, now=timezone.now()) is None  # stale revision
    assert Transfer.objects.get(pk=pk).settled_seq == decision.settled_seq


def test_settle_rejects_what_the_balance_does_not_cover_and_moves_nothing(funded):
    insert(funded, 1001)
    [row] = settlement.pending_batch(up_to=None, after=None, limit=10)
    decision = settlement.settle(row, balance_from_log=True, now=timezone.now())
    assert decision.status == "rejected" and decision.reason == "insufficient funds" and decision.source_balance == 1000
    funded["alice"].refresh_from_db()
    assert funded["alice"].balance == 1000
