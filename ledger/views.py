"""Ledger views: parse input, call a service or selector, render."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from ledger.conf import setting
from ledger.context import account_providers, index_providers, request_error
from ledger.models import Account, Transfer
from ledger.selectors import account_can_send, account_can_view, account_get
from ledger.services import (
    MAX_KEY_LENGTH,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidTransfer,
    LedgerError,
    amount_validate,
    transfer_create,
)
from switchboard.http import BadRequest, error_response, json_body, json_view, login_required
from switchboard.limits import client_ident, rate_limit_hit, rate_limit_message, too_many_requests
from switchboard.providers import render_page

INTEGER_RE = re.compile(r"^-?[0-9]{1,19}$")  # longer is over any maximum; int() of huge strings is slow


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Accounts with their balances: all for staff, their own for a user."""
    return render_page(request, "ledger/index.html", index_providers())


@require_GET
def account_detail(request: HttpRequest, name: str) -> HttpResponse:
    """An account's balance and its transfers, newest first, with the transfer form for those who may send."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    account = account_get(name=name)
    if account is None or not account_can_view(account=account, user=request.user):
        # One answer whether the account exists or is someone else's: names cannot be enumerated here either.
        raise Http404("No such account.")
    return render_page(
        request, "ledger/account.html", account_providers(), account=account, page_number=request.GET.get("page", 1)
    )


class RequestError(BadRequest):
    """A transfer request the API refuses: HTTP status, error code and a message saying what to fix."""

    def __init__(self, status: int, code: str, message: str, transfer: Transfer | None = None) -> None:
        super().__init__(message, code=code, status=status)
        self.transfer = transfer


def transfer_json(transfer: Transfer) -> dict[str, Any]:
    """A transfer as the API shows it (the sender's balance after, never the receiver's)."""
    return {
        "id": transfer.pk,
        "from": transfer.source.name,
        "to": transfer.target.name,
        "amount": transfer.amount,
        "status": transfer.status,
        "reason": transfer.reason,
        "idempotency_key": transfer.idempotency_key,
        "created": transfer.created.isoformat(),
        "resolved": transfer.resolved.isoformat() if transfer.resolved else None,
        "settled_seq": transfer.settled_seq,
        "from_balance": transfer.source_balance,
    }


def _wants_html(request: HttpRequest) -> bool:
    """A browser's form post (it asks for text/html): answer with a page, not JSON."""
    return request.content_type != "application/json" and "text/html" in request.headers.get("Accept", "")


def _request_data(request: HttpRequest) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            data = json_body(request)
        except BadRequest as exc:
            raise RequestError(exc.status, exc.code, f'{exc} Send an object like {{"from": ...}}.') from None
        if not isinstance(data, dict):
            raise RequestError(400, "bad_json", 'Send a JSON object: {"from", "to", "amount", "idempotency_key"}.')
        return data
    return {key: request.POST.get(key) for key in ("from", "to", "amount", "idempotency_key")}


def _parse_amount(value: Any) -> int:
    if isinstance(value, str) and INTEGER_RE.match(value.strip()):
        value = int(value.strip())
    try:
        return amount_validate(amount=value)
    except InvalidTransfer as exc:
        raise RequestError(400, "invalid_amount", str(exc))


def _transfer(request: HttpRequest, data: dict[str, Any]) -> Transfer:
    """Validate (400), find the accounts (404), check the sender (403), then move the money."""
    source_name, target_name, key = data.get("from"), data.get("to"), data.get("idempotency_key") or None
    for field, value in (("from", source_name), ("to", target_name)):
        if not isinstance(value, str) or not value.strip():
            raise RequestError(400, "invalid_account", f"Give {field!r} as an account name.")
    if key is not None and (not isinstance(key, str) or len(key) > MAX_KEY_LENGTH):
        raise RequestError(400, "invalid_idempotency_key", f"An idempotency key is a string of 1 to {MAX_KEY_LENGTH}.")
    amount = _parse_amount(data.get("amount"))
    if source_name == target_name:
        raise RequestError(400, "same_account", "'from' and 'to' are the same account: pick another target.")
    accounts = {a.name: a for a in Account.objects.filter(name__in=[source_name, target_name])}
    source = accounts.get(source_name)
    if source is None or not account_can_send(account=source, user=request.user):
        # One answer whether the account exists or not: account names cannot be enumerated through 'from'.
        raise RequestError(403, "forbidden", f"You may not move money from {source_name!r}: it is not your account.")
    if target_name not in accounts:
        raise RequestError(404, "unknown_account", f"There is no account named {target_name!r}.")
    target = accounts[target_name]
    try:
        return transfer_create(source=source, target=target, amount=amount, idempotency_key=key)
    except InsufficientFunds as exc:
        raise RequestError(409, exc.code, str(exc), exc.transfer)
    except IdempotencyConflict as exc:
        raise RequestError(422, exc.code, str(exc))
    except LedgerError as exc:
        raise RequestError(400, exc.code, str(exc))


@json_view(methods=["POST"], when=lambda request: not _wants_html(request))
def transfer_post(request: HttpRequest) -> HttpResponse:
    """POST /ledger/transfers (JSON or form): 201 new, 200 replayed key, 409 rejected, 4xx bad input."""
    html = _wants_html(request)
    if not request.user.is_authenticated:
        if html:
            return redirect_to_login(request.get_full_path())
        return login_required("Sign in to move money.")
    limited = rate_limit_hit(
        scope="ledger-transfer",
        ident=client_ident(request),
        limit=setting("LEDGER_TRANSFER_RATE"),
        window=setting("LEDGER_TRANSFER_RATE_WINDOW"),
        fail_open=True,  # posting/transfers work without Redis; the limit must not stop them
    )
    if not limited.allowed:
        if html:
            refused = RequestError(429, "rate_limited", rate_limit_message(limited, what="transfers"))
            page = _html_error(request, _request_data(request), refused)
            page["Retry-After"] = str(limited.retry_after)
            return page
        return too_many_requests(limited, what="transfers")
    data: dict[str, Any] = {}
    try:
        data = _request_data(request)
        transfer = _transfer(request, data)
    except RequestError as exc:
        return _html_error(request, data, exc) if html else _json_error(exc)
    if html:
        messages.success(request, f"Moved {transfer.amount} to {transfer.target.name} (transfer #{transfer.pk}).")
        return redirect("ledger:account", name=transfer.source.name)
    return JsonResponse(transfer_json(transfer), status=200 if transfer.replayed else 201)


def _json_error(exc: RequestError) -> JsonResponse:
    if exc.transfer is not None:
        return error_response(exc, transfer=transfer_json(exc.transfer))
    return error_response(exc)


def _html_error(request: HttpRequest, data: dict[str, Any], exc: RequestError) -> HttpResponse:
    """Show the error on the sender's account page when the viewer may see it, else on a plain page."""
    account = account_get(name=data["from"]) if isinstance(data.get("from"), str) else None
    if account is not None and account_can_view(account=account, user=request.user):
        values = {key: str(data.get(key) or "") for key in ("to", "amount", "idempotency_key")}
        if exc.status == 409:  # rejected: a retry is a new transfer, so it gets a new key
            values.pop("idempotency_key")
        return render_page(
            request,
            "ledger/account.html",
            account_providers(),
            status=exc.status,
            account=account,
            page_number=1,
            form_values=values,
            form_error=exc.message,
        )
    return render_page(request, "ledger/error.html", [request_error], status=exc.status, error_message=exc.message)
