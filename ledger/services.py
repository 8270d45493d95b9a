"""Ledger writes: accounts, submitting transfers (one or many, linked chains), and seeing them settled.

A transfer is inserted ``pending`` and committed (the CouchDB recipe's intent record), then settled
oldest first by ledger.batch: one transaction decides a batch of pending transfers under the settler
lock and the locks of every account involved, on running balances, with a compare-and-set on status
and revision for each, and one balance update per account. A submitter settles the batch holding its
transfer, or waits while another submitter's batch does. Two settlers therefore never approve against
the same balance, and a process that dies anywhere leaves either nothing or pending transfers that
the next settler settles. LEDGER_BALANCE_SOURCE="log" keeps the per-transfer settlement of
ledger.settlement (the recipe's SUM as the check, for comparison).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ledger import batch, settlement, statements
from ledger.conf import setting
from ledger.metrics import SETTLED
from ledger.models import Account, Transfer
from ledger.money import money_format
from switchboard.http import BadRequest, text_check
from switchboard.limits import RateResult, rate_limit_hit
from switchboard.metrics import counter_add

MAX_KEY_LENGTH = 100


class LedgerError(Exception):
    """Base class of the ledger's refusals; ``code`` is the API's error string."""

    code = "ledger_error"


class InvalidTransfer(LedgerError, ValueError):
    """The transfer request itself is wrong (amount, accounts, key)."""

    code = "invalid_transfer"


class InsufficientFunds(LedgerError):
    """The transfer was settled as rejected: the sender's balance did not cover it."""

    code = "insufficient_funds"

    def __init__(self, transfer: Transfer) -> None:
        self.transfer = transfer
        detail = f" (balance {money_format(transfer.source_balance)} < amount {money_format(transfer.amount)})"
        super().__init__(f"Transfer #{transfer.pk} was rejected: {transfer.reason}{detail}.")


class IdempotencyConflict(LedgerError):
    """The sender already used the idempotency key for a different transfer (keys are per sending account)."""

    code = "idempotency_key_reused"

    def __init__(self, existing: Transfer) -> None:
        self.transfer = existing
        super().__init__(
            f"Idempotency key {existing.idempotency_key!r} already belongs to transfer #{existing.pk} "
            f"({existing.source.name} -> {existing.target.name}, {money_format(existing.amount)}): "
            "use a new key for a new transfer."
        )


# -- accounts ----------------------------------------------------------------------------------
def account_create(*, name: str, kind: str = Account.Kind.CUSTOMER, owner: AbstractBaseUser | None = None) -> Account:
    """Create an account with a zero balance (raises ValidationError on a bad or taken name)."""
    account = Account(name=name, kind=kind, owner=owner)
    account.full_clean()
    account.save()
    return account


# -- transfers ---------------------------------------------------------------------------------
def amount_validate(*, amount: Any) -> int:
    """Return amount if it is a whole positive number of minor units within the maximum, else raise InvalidTransfer."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidTransfer(f"Amount {amount!r} is not a whole number of minor units (cents).")
    if amount <= 0:
        raise InvalidTransfer(f"Amount {amount} must be positive.")
    maximum = setting("LEDGER_MAX_TRANSFER_AMOUNT")
    if amount > maximum:
        raise InvalidTransfer(f"Amount {amount} is over the maximum of {maximum} per transfer.")
    return amount


def transfer_validate(*, source: Account, target: Account, amount: Any, idempotency_key: str | None = None) -> None:
    """Raise InvalidTransfer unless amount is a whole positive number within the maximum and the accounts differ."""
    amount_validate(amount=amount)
    if source.pk == target.pk:
        raise InvalidTransfer(f"Source and target are the same account ({source.name}): pick another target.")
    if idempotency_key is not None and not (0 < len(idempotency_key) <= MAX_KEY_LENGTH):
        raise InvalidTransfer(f"An idempotency key has 1 to {MAX_KEY_LENGTH} characters.")
    if idempotency_key is not None:
        try:
            text_check(idempotency_key, field="idempotency_key")
        except BadRequest as exc:
            raise InvalidTransfer(str(exc)) from None


def transfer_rate_hit(*, ident: str) -> RateResult:
    """Count one transfer request of ``ident`` against LEDGER_TRANSFER_RATE per LEDGER_TRANSFER_RATE_WINDOW s.

    One limit for the API and the pages. A Redis that does not answer lets the request through: transfers work
    without Redis, the limit must not stop them.
    """
    limit, window = setting("LEDGER_TRANSFER_RATE"), setting("LEDGER_TRANSFER_RATE_WINDOW")
    return rate_limit_hit(scope="ledger-transfer", ident=ident, limit=limit, window=window, fail_open=True)


def transfer_submit(
    *, source: Account, target: Account, amount: int, idempotency_key: str | None = None
) -> tuple[Transfer, bool]:
    """Insert a pending transfer and commit it; returns (transfer, created). A known key returns its transfer."""
    transfer_validate(source=source, target=target, amount=amount, idempotency_key=idempotency_key)
    created = timezone.now()
    # The unique key lets exactly one insert through, even when requests with one key race.
    pk = settlement.insert_pending(
        source_id=source.pk, target_id=target.pk, amount=amount, key=idempotency_key, created=created
    )
    if pk is None:
        existing = Transfer.objects.select_related("source", "target").get(
            source=source, idempotency_key=idempotency_key
        )
        return _same_request(existing, source=source, target=target, amount=amount), False
    transfer = Transfer(
        id=pk,
        source=source,
        target=target,
        amount=amount,
        status=Transfer.Status.PENDING,
        created=created,
        revision=1,
        idempotency_key=idempotency_key,
    )
    transfer._state.adding, transfer._state.db = False, connection.alias
    return transfer, True


def _same_request(existing: Transfer, *, source: Account, target: Account, amount: int) -> Transfer:
    if (existing.source_id, existing.target_id, existing.amount) != (source.pk, target.pk, amount):
        raise IdempotencyConflict(existing)
    return existing


def transfer_create(*, source: Account, target: Account, amount: int, idempotency_key: str | None = None) -> Transfer:
    """Submit a transfer, see it settled (by this call or the settler at work), and return it final.

    ``.replayed`` is True for a known key. Raises InsufficientFunds when it ends rejected (the rejected
    transfer stays in the log).
    """
    transfer, created = transfer_submit(source=source, target=target, amount=amount, idempotency_key=idempotency_key)
    if not transfer.is_final:
        if setting("LEDGER_BALANCE_SOURCE") == "log":
            decision = _resolve_per_transfer(up_to=transfer)[1]
        else:
            decision = batch.transfers_settle([transfer.pk]).get(transfer.pk)
        if decision is None:
            transfer = Transfer.objects.get(pk=transfer.pk)  # another settler decided it: read it
        else:
            for name in batch.DECISION_FIELDS:
                setattr(transfer, name, getattr(decision, name))
    transfer.replayed = not created
    if transfer.status == Transfer.Status.REJECTED:
        raise InsufficientFunds(transfer)
    return transfer


def transfers_resolve(*, up_to: Transfer | None = None) -> int:
    """Settle pending transfers oldest first (up to and including ``up_to``); returns how many this call settled."""
    if setting("LEDGER_BALANCE_SOURCE") == "log":
        return _resolve_per_transfer(up_to=up_to)[0]
    limit, settled = setting("LEDGER_SETTLE_BATCH"), 0
    while True:
        try:
            decided = batch.settle_batch(limit=limit, up_to=up_to)
        except batch.SettlementConflict:
            continue
        settled += len(decided)
        if len(decided) < limit:
            return settled


def _resolve_per_transfer(*, up_to: Transfer | None) -> tuple[int, settlement.Decision | None]:
    limit = None if up_to is None else (settlement.db_datetime(up_to.created), up_to.pk)
    settled, decision = settlement.resolve_per_transfer(
        up_to=limit,
        batch=setting("LEDGER_RESOLVE_BATCH"),
        from_log=setting("LEDGER_BALANCE_SOURCE") == "log",
        now=timezone.now,
    )
    counter_add(SETTLED, settled)  # the operations page's "settled / min" (the batch path counts in batch.py)
    return settled, decision


# -- many transfers at once --------------------------------------------------------------------
@dataclass
class TransferRequest:
    """One item of transfers_create_many: ``linked`` joins it to the next item (TigerBeetle's flag).

    ``error`` is set by a caller that could not make sense of the item (unknown account, not yours...):
    the item answers ``invalid`` with it, and so does the rest of its chain.
    """

    source: Account | None
    target: Account | None
    amount: Any
    idempotency_key: str | None = None
    linked: bool = False
    error: LedgerError | None = None


@dataclass
class TransferResult:
    """``result`` is "created" (settled successful), "replayed" (a known key: the original, final),
    "rejected" (settled rejected, ``transfer.reason`` says why) or "invalid" (nothing inserted: ``error``)."""

    result: str
    transfer: Transfer | None = None
    error: LedgerError | None = None


def transfers_create_many(*, requests: list[TransferRequest]) -> list[TransferResult]:
    """Submit many transfers in one transaction, see them settled, and return one result per request, in order.

    Consecutive requests with ``linked`` set form a chain with the next one: its transfers settle all
    successful or all rejected, and an invalid member makes the whole chain invalid.
    """
    maximum = setting("LEDGER_BATCH_MAX")
    if len(requests) > maximum:
        raise InvalidTransfer(f"{len(requests)} transfers in one batch: send at most {maximum}.")
    results: list[TransferResult | None] = [None] * len(requests)
    chains = _chains(requests, results)
    for attempt in range(3):
        try:
            to_insert = _replays(requests, chains, results)
            created = _insert_many(requests, to_insert)
            break
        except IntegrityError:  # a key was taken meanwhile by a concurrent request: look the keys up again
            if attempt == 2:
                raise
    replayed = [r.transfer for r in results if r is not None and r.transfer is not None]
    waiting = [t.pk for t in created.values()] + [t.pk for t in replayed if not t.is_final]
    if setting("LEDGER_BALANCE_SOURCE") == "log":
        _resolve_per_transfer(up_to=None)
        decisions = {}
    else:
        decisions = batch.transfers_settle(waiting)
    # What this call decided is filled in; what another settler decided is read back.
    unknown = [pk for pk in waiting if pk not in decisions]
    final = Transfer.objects.select_related("source", "target").in_bulk(unknown) if unknown else {}
    answers: list[TransferResult] = []
    for index, result in enumerate(results):
        if index in created:
            transfer = final.get(created[index].pk, created[index])
            if transfer.pk in decisions:
                for name in batch.DECISION_FIELDS:
                    setattr(transfer, name, getattr(decisions[transfer.pk], name))
            transfer.replayed = False
            kind = "created" if transfer.status == Transfer.Status.SUCCESSFUL else "rejected"
            answers.append(TransferResult(kind, transfer))
        else:
            assert result is not None
            if result.transfer is not None:
                result.transfer = final.get(result.transfer.pk, result.transfer)
                if result.transfer.pk in decisions:
                    for name in batch.DECISION_FIELDS:
                        setattr(result.transfer, name, getattr(decisions[result.transfer.pk], name))
                result.transfer.replayed = True
            answers.append(result)
    return answers


def _chains(requests: list[TransferRequest], results: list[TransferResult | None]) -> list[list[int]]:
    """Group request indexes into chains (single requests are chains of one); mark invalid ones in results."""
    chains, current = [], []
    for index, request in enumerate(requests):
        current.append(index)
        if request.error is None:
            try:
                if request.source is None or request.target is None:
                    raise InvalidTransfer("Give both accounts.")
                transfer_validate(
                    source=request.source,
                    target=request.target,
                    amount=request.amount,
                    idempotency_key=request.idempotency_key,
                )
            except InvalidTransfer as exc:
                request.error = exc
        if not request.linked:
            chains.append(current)
            current = []
    if current:
        last = requests[current[-1]]
        if last.error is None:
            last.error = InvalidTransfer("The last transfer of a chain has linked false: this chain is never closed.")
        chains.append(current)
    seen: set[tuple[int, str]] = set()
    for chain in chains:
        for index in chain:
            request = requests[index]
            key = (request.source.pk, request.idempotency_key) if request.source and request.idempotency_key else None
            if key is not None and request.error is None:
                if key in seen:
                    request.error = InvalidTransfer(f"Idempotency key {key[1]!r} is used twice in this batch.")
                seen.add(key)
        broken = next((i for i in chain if requests[i].error is not None), None)
        if broken is None:
            continue
        for index in chain:
            error = requests[index].error or InvalidTransfer(
                f"Linked transfer (item {broken}) is invalid: {requests[broken].error}"
            )
            results[index] = TransferResult("invalid", error=error)
    return [chain for chain in chains if results[chain[0]] is None]


def _replays(
    requests: list[TransferRequest], chains: list[list[int]], results: list[TransferResult | None]
) -> list[list[int]]:
    """Answer requests whose key is known (replayed, or invalid for another transfer); the chains left to insert."""
    keyed = [requests[i] for chain in chains for i in chain if requests[i].idempotency_key is not None]
    known: dict[tuple[int, str], Transfer] = {}
    if keyed:
        rows = Transfer.objects.select_related("source", "target").filter(
            source__in={r.source.pk for r in keyed}, idempotency_key__in={r.idempotency_key for r in keyed}
        )
        known = {(t.source_id, t.idempotency_key): t for t in rows}
    to_insert = []
    for chain in chains:
        found = {i: known.get((requests[i].source.pk, requests[i].idempotency_key)) for i in chain}
        if not any(found.values()):
            to_insert.append(chain)
            continue
        for index in chain:
            request, existing = requests[index], found[index]
            if existing is None:
                results[index] = TransferResult(
                    "invalid", error=InvalidTransfer("Other transfers of this chain were already made with their keys.")
                )
                continue
            try:
                _same_request(existing, source=request.source, target=request.target, amount=request.amount)
                results[index] = TransferResult("replayed", existing)
            except IdempotencyConflict as exc:
                results[index] = TransferResult("invalid", error=exc)
    return to_insert


def _insert_many(requests: list[TransferRequest], chains: list[list[int]]) -> dict[int, Transfer]:
    """Insert the chains' transfers pending, in one transaction; request index -> transfer."""
    now = timezone.now()
    rows: dict[int, Transfer] = {}
    for chain in chains:
        link = uuid.uuid4() if len(chain) > 1 else None
        for index in chain:
            request = requests[index]
            rows[index] = Transfer(
                source=request.source,
                target=request.target,
                amount=request.amount,
                idempotency_key=request.idempotency_key,
                created=now,
                chain=link,
            )
    with transaction.atomic():
        statements.insert_pending(list(rows.values()))
    return rows
