"""Settlement in batches, the batch API (service, HTTP list, command file) and linked chains."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ledger import batch, writes
from ledger.models import Account, Transfer
from ledger.selectors import ledger_audit
from ledger.services import TransferRequest, account_create, transfer_submit, transfers_create_many, transfers_resolve

URL = "/ledger/transfers"


def req(source, target, amount, key=None, linked=False):
    return TransferRequest(source=source, target=target, amount=amount, idempotency_key=key, linked=linked)


def balances():
    return dict(Account.objects.values_list("name", "balance"))


# -- one batch -----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["orm", "case", "raw"])
def test_one_batch_decides_oldest_first_on_running_balances_with_one_update_per_account(funded, path):
    alice, bob = funded["alice"], funded["bob"]
    ids = [transfer_submit(source=alice, target=bob, amount=a)[0].pk for a in (600, 600, 300)]
    ids.append(transfer_submit(source=bob, target=alice, amount=1400)[0].pk)  # 500 + 600 + 300 = 1400: all of it
    with CaptureQueriesContext(connection) as queries:
        decided = batch.settle_batch(limit=100, path=path)
    assert [(d.pk, d.status) for d in decided] == [
        (ids[0], "successful"),
        (ids[1], "rejected"),
        (ids[2], "successful"),
        (ids[3], "successful"),
    ]
    account_updates = [q["sql"] for q in queries.captured_queries if re.search('UPDATE "?ledger_account"? ', q["sql"])]
    assert len(account_updates) == 1  # one statement for every account of the batch...
    if path == "orm":
        assert account_updates[0].startswith("2 times: ")  # ...run once per account, through executemany
    assert balances() == {"bank": -1500, "alice-main": 1500, "bob-main": 0}
    rows = Transfer.objects.filter(pk__in=ids).order_by("settled_seq")
    assert [r.pk for r in rows] == ids
    assert [(r.source_balance, r.target_balance) for r in rows] == [(400, 1100), (400, 1100), (100, 1400), (0, 1500)]
    assert {r.revision for r in rows} == {2}


def test_the_three_write_paths_decide_alike(funded):
    bank = funded["bank"]
    outcomes = []
    for path in ("orm", "case", "raw"):
        alice, bob = account_create(name=f"{path}-a"), account_create(name=f"{path}-b")
        transfers_create_many(requests=[req(bank, alice, 1000), req(bank, bob, 500)])
        pks = [
            transfer_submit(source=s, target=t, amount=a)[0].pk
            for s, t, a in ((alice, bob, 700), (bob, alice, 50), (alice, bob, 400), (bank, alice, 5), (alice, bob, 1))
        ]
        decided = batch.settle_batch(limit=100, path=path)
        assert [d.pk for d in decided] == pks
        outcomes.append([(d.status, d.reason) for d in decided])
        rows = Transfer.objects.filter(pk__in=pks).order_by("settled_seq")
        assert [(r.status, r.reason, r.source_balance, r.target_balance) for r in rows] == [
            (d.status, d.reason, d.source_balance, d.target_balance) for d in decided
        ]
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert outcomes[0][0][0] == "successful" and outcomes[0][2][0] == "rejected"


def test_a_batch_of_a_limit_settles_that_many_and_the_rest_next(funded):
    for _ in range(5):
        transfer_submit(source=funded["alice"], target=funded["bob"], amount=1)
    assert len(batch.settle_batch(limit=2)) == 2
    assert Transfer.objects.filter(status="pending").count() == 3
    assert transfers_resolve() == 3


def test_the_compare_and_set_refuses_a_row_no_longer_pending_and_rolls_the_batch_back(funded):
    first, _ = transfer_submit(source=funded["alice"], target=funded["bob"], amount=10)
    second, _ = transfer_submit(source=funded["alice"], target=funded["bob"], amount=20)
    items = [
        batch.Decided(t.pk, t.source_id, t.target_id, t.amount, revision=1, chain=None, status="successful")
        for t in (first, second)
    ]
    transfers_resolve(up_to=first)  # settled meanwhile: the batch's compare-and-set must miss it
    with pytest.raises(batch.SettlementConflict, match="1 of 2"), transaction.atomic():  # as settle_batch does
        writes._orm_write(items, now=first.created)
    assert Transfer.objects.get(pk=second.pk).status == "pending"  # nothing of the chunk was written
    transfers_resolve()


# -- linked chains -------------------------------------------------------------------------------
def test_a_linked_chain_settles_all_successful_or_all_rejected_with_the_reason_on_each(funded):
    alice, bob, bank = funded["alice"], funded["bob"], funded["bank"]
    # A payment and its fee: both go through.
    paid = transfers_create_many(requests=[req(alice, bob, 900, linked=True), req(alice, bank, 100)])
    assert [r.result for r in paid] == ["created", "created"]
    assert balances()["alice-main"] == 0
    # A three-way split bob cannot cover: all three rejected, though the first two alone would fit.
    split = transfers_create_many(
        requests=[req(bob, alice, 600, linked=True), req(bob, bank, 600, linked=True), req(bob, alice, 400)]
    )
    assert [r.result for r in split] == ["rejected", "rejected", "rejected"]
    failed = split[2].transfer
    assert failed.reason == "insufficient funds"
    assert [r.transfer.reason for r in split[:2]] == [f"linked transfer #{failed.pk} failed: insufficient funds"] * 2
    assert balances() == {"bank": -1400, "alice-main": 0, "bob-main": 1400}
    assert len({r.transfer.chain for r in split}) == 1 and split[0].transfer.chain is not None
    assert ledger_audit().ok


def test_a_chain_cut_by_the_batch_limit_is_settled_whole(funded):
    alice, bob = funded["alice"], funded["bob"]
    transfer_submit(source=alice, target=bob, amount=1)
    results = transfers_create_many(requests=[req(alice, bob, 5, linked=True), req(bob, alice, 7)])
    assert {r.transfer.status for r in results} == {"successful"}
    chain = transfers_create_many(requests=[req(bob, alice, 1, linked=True), req(alice, bob, 2, linked=True)])
    assert [r.result for r in chain] == ["invalid", "invalid"]  # never closed: nothing inserted
    assert "never closed" in str(chain[1].error) and "item 1" in str(chain[0].error)
    # Pending: one single, then a chain of three; a batch of 2 must take the whole chain.
    pending = [transfer_submit(source=alice, target=bob, amount=1)[0].pk]
    link = "00000000-0000-4000-8000-000000000001"
    pending += [
        Transfer.objects.create(source=alice, target=bob, amount=1, chain=link).pk,
        Transfer.objects.create(source=bob, target=alice, amount=1, chain=link).pk,
        Transfer.objects.create(source=alice, target=bob, amount=1, chain=link).pk,
    ]
    decided = batch.settle_batch(limit=2)
    assert sorted(d.pk for d in decided) == sorted(pending)


def test_the_audit_finds_a_half_applied_chain(funded, corrupted_ledger):
    link = "00000000-0000-4000-8000-000000000002"
    Transfer.objects.create(source=funded["alice"], target=funded["bob"], amount=1, chain=link)
    transfers_resolve()
    Transfer.objects.create(source=funded["bob"], target=funded["alice"], amount=10**6, chain=link)
    batch.settle_batch(limit=10)  # settled alone (the first member is already final): a broken chain
    report = ledger_audit()
    assert any("is half-applied: rejected, successful" in p for p in report.problems), report.problems


# -- transfers_create_many -----------------------------------------------------------------------
def test_create_many_answers_one_result_per_item_in_order(funded):
    alice, bob, bank = funded["alice"], funded["bob"], funded["bank"]
    transfers_create_many(requests=[req(alice, bob, 10, key="k1"), req(alice, bob, 11, key="k0")])
    results = transfers_create_many(
        requests=[
            req(alice, bob, 20, key="k2"),  # created
            req(alice, bob, 10, key="k1"),  # replayed
            req(alice, bob, 5000, key="k3"),  # rejected
            req(alice, bob, 0, key="k4"),  # invalid
            req(alice, bob, 99, key="k0"),  # invalid: the key was used for another transfer
            req(bob, alice, 10, key="k1"),  # created: keys are per sending account
            req(alice, alice, 1),  # invalid
            req(bank, alice, 1, key="k5"),  # created
            req(bank, alice, 1, key="k5"),  # invalid: the same key twice in one batch
        ]
    )
    assert [r.result for r in results] == [
        "created",
        "replayed",
        "rejected",
        "invalid",
        "invalid",
        "created",
        "invalid",
        "created",
        "invalid",
    ]
    assert results[1].transfer.replayed and results[1].transfer.status == "successful"
    assert results[2].transfer.reason == "insufficient funds"
    assert "must be positive" in str(results[3].error) and results[4].error.code == "idempotency_key_reused"
    assert "twice in this batch" in str(results[8].error)
    again = transfers_create_many(requests=[req(alice, bob, 20, key="k2"), req(alice, bob, 5000, key="k3")])
    assert [(r.result, r.transfer.status) for r in again] == [("replayed", "successful"), ("replayed", "rejected")]


def test_an_invalid_member_makes_its_whole_chain_invalid_and_inserts_nothing(funded):
    alice, bob = funded["alice"], funded["bob"]
    before = Transfer.objects.count()
    results = transfers_create_many(requests=[req(alice, bob, 5, linked=True), req(alice, bob, -1), req(bob, alice, 1)])
    assert [r.result for r in results] == ["invalid", "invalid", "created"]
    assert "Linked transfer (item 1) is invalid" in str(results[0].error)
    assert Transfer.objects.count() == before + 1


def test_create_many_refuses_more_than_the_maximum(funded, settings):
    settings.LEDGER_BATCH_MAX = 2
    with pytest.raises(Exception, match="at most 2"):
        transfers_create_many(requests=[req(funded["bank"], funded["alice"], 1)] * 3)


# -- HTTP ----------------------------------------------------------------------------------------
def test_post_a_list_answers_one_result_per_item(client, user, funded):
    client.force_login(user)
    body = [
        {"from": "alice-main", "to": "bob-main", "amount": 100, "idempotency_key": "a", "linked": True},
        {"from": "alice-main", "to": "bank", "amount": 1, "idempotency_key": "a-fee"},
        {"from": "alice-main", "to": "bob-main", "amount": 5000},
        {"from": "bob-main", "to": "alice-main", "amount": 1},  # not alice's account
        {"from": "alice-main", "to": "nobody", "amount": 1},
        "not an object",
        {"from": "alice-main", "to": "bob-main", "amount": 1, "linked": "yes"},
    ]
    answer = client.post(URL, data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [(r["index"], r["result"]) for r in results] == [
        (0, "created"),
        (1, "created"),
        (2, "rejected"),
        (3, "invalid"),
        (4, "invalid"),
        (5, "invalid"),
        (6, "invalid"),
    ]
    assert results[2]["transfer"]["reason"] == "insufficient funds"
    assert results[3]["error"] == "forbidden" and results[4]["error"] == "unknown_account"
    assert "true or false" in results[6]["message"]
    again = client.post(URL, data=json.dumps(body[:2]), content_type="application/json").json()["results"]
    assert [r["result"] for r in again] == ["replayed", "replayed"]
    assert [r["transfer"]["id"] for r in again] == [r["transfer"]["id"] for r in results[:2]]


@pytest.mark.parametrize("size", [0, 1001])
def test_post_a_list_that_is_empty_or_too_long_is_a_400(client, user, funded, size):
    client.force_login(user)
    body = [{"from": "alice-main", "to": "bob-main", "amount": 1}] * size
    answer = client.post(URL, data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_batch"
    assert Transfer.objects.count() == 2


# -- the command ---------------------------------------------------------------------------------
def test_transfer_command_reads_many_from_csv_and_json_with_progress(funded, tmp_path, settings):
    settings.LEDGER_BATCH_MAX = 2
    csv_file = tmp_path / "pay.csv"
    csv_file.write_text(
        "from,to,amount,key,linked\nbank,alice-main,5,d1,\nalice-main,bob-main,3,p1,1\nalice-main,bank,1,f1,\n"
    )
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="starts a chain across batches of 2"):
        call_command("ledger_transfer", "--file", str(csv_file), stdout=out, stderr=err)
    settings.LEDGER_BATCH_MAX = 1000
    call_command("ledger_transfer", "--file", str(csv_file), stdout=out, stderr=err)
    assert "3 transfers from pay.csv: 3 created, 0 replayed, 0 rejected, 0 invalid." in out.getvalue()
    assert "3/3 transfers (100 %)" in err.getvalue()
    assert balances()["alice-main"] == 1001
    json_file = tmp_path / "pay.json"
    json_file.write_text(json.dumps([{"from": "alice-main", "to": "bob-main", "amount": 1, "key": "p1"}]))
    out = StringIO()
    with pytest.raises(CommandError, match="1 transfer"):
        call_command("ledger_transfer", "--file", str(json_file), stdout=out, stderr=StringIO())
    assert "row 1: invalid" in out.getvalue()  # p1 was 3, not 1: the key belongs to another transfer
    with pytest.raises(CommandError, match=r"give a \.csv or \.json file"):
        call_command("ledger_transfer", "--file", str(tmp_path / "x.txt"), stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="not both"):
        call_command("ledger_transfer", "a", "--file", str(json_file), stdout=StringIO(), stderr=StringIO())


@pytest.mark.parametrize("size", [1, 3, 40])
def test_the_kept_insert_stores_each_transfer_as_given_and_returns_its_id(funded, size):
    alice, bob = funded["alice"], funded["bob"]
    requests = [req(alice, bob, n + 1, key=f"i{size}-{n}", linked=n % 3 == 0 and n + 1 < size) for n in range(size)]
    results = transfers_create_many(requests=requests)
    stored = Transfer.objects.in_bulk([r.transfer.pk for r in results])
    assert len(stored) == size
    for request, result in zip(requests, results, strict=True):
        row = stored[result.transfer.pk]
        assert (row.source_id, row.target_id, row.amount, row.idempotency_key) == (
            alice.pk,
            bob.pk,
            request.amount,
            request.idempotency_key,
        )
        assert row.chain == result.transfer.chain and row.status == result.transfer.status == "successful"
    assert (size > 1) == any(row.chain is not None for row in stored.values())
