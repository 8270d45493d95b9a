"""Models: the database refuses what the ledger must never contain, and the log is append-only."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from ledger.models import Account, AppendOnlyError, Transfer
from ledger.services import transfer_submit, transfers_resolve

CHAIN = uuid.UUID("00000000-0000-4000-8000-00000000000a")
OTHER_CHAIN = uuid.UUID("00000000-0000-4000-8000-00000000000b")
# (chain before, chain the UPDATE writes): into a chain, into another one, out of it.
CHAIN_CHANGES = [(None, CHAIN), (CHAIN, OTHER_CHAIN), (CHAIN, None)]


def raw(sql: str, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def chain_param(value: uuid.UUID | None):
    """``value`` as the ORM writes it in the chain column (32 hex digits on SQLite, a uuid on PostgreSQL)."""
    return Transfer._meta.get_field("chain").get_db_prep_value(value, connection)


def test_a_customer_balance_can_never_be_stored_below_zero(funded):
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=funded["alice"].pk).update(balance=F("balance") - 1001)


def test_a_system_account_may_go_negative(funded):
    assert Account.objects.get(name="bank").balance == -1500


@pytest.mark.parametrize("amount", [0, -5])
def test_the_database_refuses_a_non_positive_amount(funded, amount):
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.create(source=funded["alice"], target=funded["bob"], amount=amount)


def test_the_database_refuses_a_transfer_to_the_same_account(funded):
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.create(source=funded["alice"], target=funded["alice"], amount=1)


def test_a_final_status_needs_a_settlement_number(funded):
    with pytest.raises(IntegrityError), transaction.atomic():
        Transfer.objects.create(source=funded["alice"], target=funded["bob"], amount=1, status="successful")


def test_saving_or_deleting_a_transfer_is_refused_by_the_model(funded):
    transfer = Transfer.objects.first()
    transfer.amount = 1
    with pytest.raises(AppendOnlyError):
        transfer.save()
    with pytest.raises(AppendOnlyError):
        transfer.delete()
    with pytest.raises(AppendOnlyError):
        Transfer.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        Transfer.objects.filter(pk=transfer.pk).update(amount=1)
    assert Transfer.objects.get(pk=transfer.pk).amount != 1


def test_the_database_trigger_refuses_a_delete(funded):
    with pytest.raises(IntegrityError, match="append-only"):
        raw("DELETE FROM ledger_transfer")
    assert Transfer.objects.count() == 2


@pytest.mark.parametrize(
    "assignment",
    [
        "amount = amount + 1",
        "source_id = target_id, target_id = source_id",
        "status = 'pending', settled_seq = NULL, resolved = NULL, revision = revision + 1",
        "status = 'rejected', revision = revision + 1",
        "reason = 'edited'",
        "idempotency_key = 'other'",
    ],
)
def test_the_database_trigger_refuses_any_edit_of_a_settled_transfer(funded, assignment):
    with pytest.raises(IntegrityError, match="append-only"):
        raw(f"UPDATE ledger_transfer SET {assignment}")
    assert set(Transfer.objects.values_list("status", flat=True)) == {"successful"}


def test_the_database_trigger_allows_only_pending_to_final_on_a_pending_transfer(funded, corrupted_ledger):
    transfer, _ = transfer_submit(source=funded["alice"], target=funded["bob"], amount=5)
    with pytest.raises(IntegrityError, match="append-only"):
        raw("UPDATE ledger_transfer SET amount = 6 WHERE id = %s", [transfer.pk])
    with pytest.raises(IntegrityError, match="append-only"):
        raw("UPDATE ledger_transfer SET status = 'pending', revision = revision + 1 WHERE id = %s", [transfer.pk])
    raw(
        "UPDATE ledger_transfer SET status = 'rejected', revision = revision + 1, settled_seq = 999, resolved = %s,"
        " source_balance = 1000, target_balance = 500, reason = 'by hand' WHERE id = %s",
        [timezone.now(), transfer.pk],
    )
    assert Transfer.objects.get(pk=transfer.pk).status == "rejected"
    with pytest.raises(IntegrityError, match="append-only"):
        raw("UPDATE ledger_transfer SET status = 'successful', revision = revision + 1 WHERE id = %s", [transfer.pk])


@pytest.mark.parametrize(("before", "after"), CHAIN_CHANGES)
def test_the_database_trigger_refuses_a_settling_update_that_changes_the_chain(funded, corrupted_ledger, before, after):
    transfer = Transfer.objects.create(source=funded["alice"], target=funded["bob"], amount=5, chain=before)
    settle = (
        "UPDATE ledger_transfer SET status = 'rejected', revision = revision + 1, settled_seq = 999, resolved = %s,"
        " source_balance = 1000, target_balance = 500, reason = 'by hand'"
    )
    with pytest.raises(IntegrityError, match="append-only"):
        raw(f"{settle}, chain = %s WHERE id = %s", [timezone.now(), chain_param(after), transfer.pk])
    with pytest.raises(IntegrityError, match="append-only"):
        raw("UPDATE ledger_transfer SET chain = %s WHERE id = %s", [chain_param(after), transfer.pk])
    assert Transfer.objects.get(pk=transfer.pk).chain == before
    raw(f"{settle} WHERE id = %s", [timezone.now(), transfer.pk])  # the same move, chain untouched: allowed
    settled = Transfer.objects.get(pk=transfer.pk)
    assert (settled.status, settled.chain) == ("rejected", before)


@pytest.mark.parametrize(("before", "after"), CHAIN_CHANGES)
def test_the_database_trigger_refuses_changing_the_chain_of_a_settled_transfer(funded, before, after):
    # A final row refuses every UPDATE (0002 already did): this pins chain into that promise.
    transfer = Transfer.objects.create(source=funded["alice"], target=funded["bob"], amount=5, chain=before)
    assert transfers_resolve() == 1  # the settler's own update passes the trigger
    transfer.refresh_from_db()
    assert (transfer.status, transfer.chain) == ("successful", before)
    with pytest.raises(IntegrityError, match="append-only"):
        raw("UPDATE ledger_transfer SET chain = %s WHERE id = %s", [chain_param(after), transfer.pk])
    assert Transfer.objects.get(pk=transfer.pk).chain == before


def test_accounts_with_transfers_cannot_be_deleted(funded):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        funded["alice"].delete()
