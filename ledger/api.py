"""The ledger's JSON API (a django-ninja Router a host mounts, see switchboard.api): accounts, transfers.

Owners see their accounts and the transfers in and out of them, staff see all; an account or transfer the
user may not see answers 404, like one that does not exist (names cannot be enumerated).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from ninja import Field, Router, Schema

from ledger.intake import RequestError, transfer_json, transfer_make
from ledger.models import Account, Transfer
from ledger.selectors import account_can_view, account_get, accounts_visible
from ledger.services import transfer_rate_hit
from switchboard.api import AUTH, BodyIn, cursor_page, errors, page_schema
from switchboard.http import BadRequest, error_response
from switchboard.limits import client_ident, too_many_requests

router = Router(tags=["ledger"], auth=AUTH)


class AccountOut(Schema):
    name: str
    kind: str
    owner: str | None = Field(description="The owner's username (null for a system account).")
    balance: int = Field(description="The settled balance in minor units (cents).")
    created: datetime


class TransferOut(Schema):
    id: int
    from_: str = Field(alias="from")
    to: str
    amount: int = Field(description="Minor units (cents).")
    status: str = Field(description="pending, successful or rejected.")
    reason: str
    idempotency_key: str | None
    created: datetime
    resolved: datetime | None
    settled_seq: int | None
    from_balance: int | None = Field(description="The sender's balance after it (null unless you see the sender).")


class TransferIn(BodyIn):
    from_: str = Field(alias="from", description="The account to take the money from (yours).")
    to: str = Field(description="The account to pay.")
    amount: int = Field(description="Minor units (cents), at least 1.")
    idempotency_key: str | None = Field(None, description="Send the same key again to get the same transfer back.")


class TransferError(Schema):
    error: str
    message: str
    transfer: TransferOut | None = Field(None, description="The rejected transfer (409 insufficient_funds).")


def account_json(account: Account) -> dict[str, Any]:
    owner = account.owner.get_username() if account.owner_id else None
    return {
        "name": account.name,
        "kind": account.kind,
        "owner": owner,
        "balance": account.balance,
        "created": account.created,
    }


def _visible_json(transfer: Transfer, user: Any) -> dict[str, Any]:
    data = transfer_json(transfer)
    if not account_can_view(account=transfer.source, user=user):
        data["from_balance"] = None  # the sender's balance is the sender's business
    return data


def _account(request: HttpRequest, name: str) -> Account:
    account = account_get(name=name)
    if account is None or not account_can_view(account=account, user=request.user):
        raise BadRequest(f"No account {name!r} of yours: see GET accounts for yours.", code="not_found", status=404)
    return account


@router.get("/accounts", response=errors(400, 401, _200=page_schema(AccountOut)), operation_id="ledger_accounts_list")
def accounts_list(request: HttpRequest, cursor: str | None = None, limit: int | None = None):
    """Your accounts with their balances (all accounts for staff), by name."""
    return cursor_page(accounts_visible(user=request.user), key="name", cursor=cursor, limit=limit, render=account_json)


@router.get("/accounts/{name}", response=errors(401, 404, _200=AccountOut), operation_id="ledger_account_get")
def account_detail(request: HttpRequest, name: str):
    """One of your accounts with its balance."""
    return account_json(_account(request, name))


@router.get(
    "/accounts/{name}/transfers",
    response=errors(400, 401, 404, _200=page_schema(TransferOut)),
    operation_id="ledger_account_transfers",
    by_alias=True,
)
def account_transfers(request: HttpRequest, name: str, cursor: str | None = None, limit: int | None = None):
    """The account's transfers in and out, newest first."""
    account = _account(request, name)
    transfers = Transfer.objects.filter(Q(source=account) | Q(target=account)).select_related("source", "target")
    return cursor_page(
        transfers, key="-pk", cursor=cursor, limit=limit, render=lambda t: _visible_json(t, request.user)
    )


@router.get(
    "/transfers/{transfer_id}",
    response=errors(401, 404, _200=TransferOut),
    operation_id="ledger_transfer_get",
    by_alias=True,
)
def transfer_detail(request: HttpRequest, transfer_id: int):
    """One transfer from or to one of your accounts."""
    transfer = Transfer.objects.select_related("source", "target").filter(pk=transfer_id).first()
    user = request.user
    if transfer is None or not (
        account_can_view(account=transfer.source, user=user) or account_can_view(account=transfer.target, user=user)
    ):
        raise BadRequest(
            f"No transfer {transfer_id} of yours: see your accounts' transfers.", code="not_found", status=404
        )
    return _visible_json(transfer, user)


@router.post(
    "/transfers",
    response=errors(400, 401, 403, 404, 413, 422, 429, _200=TransferOut, _201=TransferOut, _409=TransferError),
    operation_id="ledger_transfer_create",
    by_alias=True,
    openapi_extra={
        "responses": {
            201: {
                "links": {
                    "transfer": {
                        "operationId": "ledger_transfer_get",
                        "parameters": {"transfer_id": "$response.body#/id"},
                    }
                }
            }
        }
    },
)
def transfer_create(request: HttpRequest, body: TransferIn):
    """Move money: 201 new, 200 when the idempotency key was used for the same transfer, 409 rejected."""
    limited = transfer_rate_hit(ident=client_ident(request))
    if not limited.allowed:
        return too_many_requests(limited, what="transfers")
    try:
        transfer = transfer_make(request, body.model_dump(by_alias=True))
    except RequestError as exc:
        if exc.transfer is not None:
            return error_response(exc, transfer=transfer_json(exc.transfer))
        raise
    return JsonResponse(transfer_json(transfer), status=200 if transfer.replayed else 201)
