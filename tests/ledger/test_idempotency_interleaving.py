"""A forced interleaving: two requests with one idempotency key, the second sent while the first holds its
insert uncommitted. Exactly one transfer is made, money moves once, and both callers get that transfer
(the second as a replay).

The first caller's transaction is held open right after its INSERT of the transfer; it is released only
once the second caller has read the transfers (a look-up of the key, which cannot see the uncommitted row)
or has sent its own INSERT (which waits: on PostgreSQL for the first row's fate in the unique index, on
SQLite for the write lock). A key checked by a read before the insert, with nothing in the database to
stop a second insert, makes two transfers here every time: the interleaving is held, not hoped for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from ledger.models import Account, Transfer
from ledger.selectors import ledger_audit
from ledger.services import TransferRequest, transfer_create, transfers_create_many
from tests.ledger.conftest import fund_pair

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "order-42"


def _touches_transfers(sql: str) -> bool:
    return "ledger_transfer" in sql


def _one(alice: Account, bob: Account) -> Transfer:
    return transfer_create(source=alice, target=bob, amount=400, idempotency_key=KEY)


def _many(alice: Account, bob: Account) -> Transfer:
    [result] = transfers_create_many(
        requests=[TransferRequest(source=alice, target=bob, amount=400, idempotency_key=KEY)]
    )
    assert result.result in ("created", "replayed"), result
    return result.transfer


@pytest.mark.parametrize("submit", [_one, _many], ids=["transfer_create", "transfers_create_many"])
def test_a_request_sent_while_the_first_with_its_key_holds_its_insert_gets_the_same_transfer(
    user, other_user, submit: Callable[[Account, Account], Transfer]
):
    alice, bob = fund_pair(user, other_user)  # alice holds 1000
    inserted, second_reached = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def hold_after_insert(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.lstrip().upper().startswith("INSERT") and _touches_transfers(sql) and not inserted.is_set():
            inserted.set()
            assert second_reached.wait(60), "the second request never read the transfers nor sent its insert"
        return result

    def first() -> None:
        try:
            # The caller's transaction (ATOMIC_REQUESTS, a slow commit): the insert stays uncommitted meanwhile.
            with connection.execute_wrapper(hold_after_insert), transaction.atomic():
                outcome["first"] = submit(alice, bob)
        except BaseException as exc:  # reported to the test thread
            outcome["first_error"] = exc
            inserted.set()
        finally:
            connection.close()

    def signal_reached(execute, sql, params, many, context):
        if not _touches_transfers(sql):
            return execute(sql, params, many, context)
        if sql.lstrip().upper().startswith("INSERT"):
            second_reached.set()  # it may wait on the first insert: release the first now
            return execute(sql, params, many, context)
        result = execute(sql, params, many, context)
        second_reached.set()  # a read of the transfers done while the first insert was uncommitted
        return result

    def second() -> None:
        try:
            with connection.execute_wrapper(signal_reached):
                outcome["second"] = submit(alice, bob)
        except BaseException as exc:
            outcome["second_error"] = exc
        finally:
            second_reached.set()
            connection.close()

    holding, sent = threading.Thread(target=first), threading.Thread(target=second)
    holding.start()
    try:
        assert inserted.wait(30), "the first request never inserted"
        assert "first_error" not in outcome, outcome
        sent.start()
    finally:
        holding.join(90)
        if sent.ident is not None:
            sent.join(90)

    assert "first_error" not in outcome and "second_error" not in outcome, outcome
    assert Transfer.objects.filter(source=alice, idempotency_key=KEY).count() == 1
    made = Transfer.objects.get(source=alice, idempotency_key=KEY)
    assert (outcome["first"].pk, outcome["second"].pk) == (made.pk, made.pk)
    assert (outcome["first"].replayed, outcome["second"].replayed) == (False, True)
    assert outcome["second"].status == made.status == Transfer.Status.SUCCESSFUL
    assert Account.objects.get(pk=alice.pk).balance == 600  # moved once
    assert ledger_audit().ok
