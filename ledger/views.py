"""Ledger views: parse input, call a service or selector, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from ledger.conf import setting
from ledger.context import account_providers, index_providers, request_error
from ledger.intake import RequestError, accounts_named, transfer_item_parse, transfer_json, transfer_make
from ledger.money import money_format
from ledger.selectors import account_can_view, account_get
from ledger.services import (
    InvalidTransfer,
    LedgerError,
    TransferRequest,
    transfer_rate_hit,
    transfers_create_many,
)
from switchboard.http import BadRequest, error_response, json_body, json_view, login_required
from switchboard.limits import client_ident, rate_limit_message, too_many_requests
from switchboard.providers import render_page


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


def _wants_html(request: HttpRequest) -> bool:
    """A browser's form post (it asks for text/html): answer with a page, not JSON."""
    return request.content_type != "application/json" and "text/html" in request.headers.get("Accept", "")


def _request_data(request: HttpRequest) -> dict[str, Any] | list[Any]:
    if request.content_type == "application/json":
        try:
            data = json_body(request)
        except BadRequest as exc:
            raise RequestError(exc.status, exc.code, f'{exc} Send an object like {{"from": ...}}.') from None
        if not isinstance(data, dict | list):
            raise RequestError(
                400, "bad_json", 'Send a JSON object {"from", "to", "amount", "idempotency_key"} or a list of them.'
            )
        return data
    return {key: request.POST.get(key) for key in ("from", "to", "amount", "idempotency_key", "units")}


def _transfers_many(request: HttpRequest, items: list[Any]) -> JsonResponse:
    """A JSON list: one result per item, in order (200), or 400 for a list that is empty or too long."""
    maximum = setting("LEDGER_BATCH_MAX")
    if not items or len(items) > maximum:
        raise RequestError(
            400, "invalid_batch", f"Send a list of 1 to {maximum} transfers (this one has {len(items)})."
        )
    names = [item.get(field) for item in items if isinstance(item, dict) for field in ("from", "to")]
    accounts = accounts_named([name for name in names if isinstance(name, str)])
    requests: list[TransferRequest] = []
    for item in items:
        if not isinstance(item, dict):
            item = {}
            error: LedgerError | None = InvalidTransfer('Each item is an object {"from", "to", "amount", ...}.')
        else:
            error = None
        linked = item.get("linked", False)
        request_item = TransferRequest(source=None, target=None, amount=None, linked=linked is True)
        if error is None and not isinstance(linked, bool):
            error = InvalidTransfer("'linked' is true or false.")
        if error is None:
            try:
                parsed = transfer_item_parse(request, item, accounts)
                request_item.source, request_item.target, request_item.amount, request_item.idempotency_key = parsed
            except RequestError as exc:
                error = InvalidTransfer(exc.message)
                error.code = exc.code
        request_item.error = error
        requests.append(request_item)
    results = []
    for index, result in enumerate(transfers_create_many(requests=requests)):
        if result.transfer is not None:
            results.append({"index": index, "result": result.result, "transfer": transfer_json(result.transfer)})
        else:
            results.append(
                {"index": index, "result": "invalid", "error": result.error.code, "message": str(result.error)}
            )
    return JsonResponse({"results": results})


@json_view(methods=["POST"], when=lambda request: not _wants_html(request))
def transfer_post(request: HttpRequest) -> HttpResponse:
    """POST /ledger/transfers (JSON or form): 201 new, 200 replayed key, 409 rejected, 4xx bad input.

    A JSON list of such objects (each may add ``"linked": true``) answers 200 with one result per item.
    """
    html = _wants_html(request)
    if not request.user.is_authenticated:
        if html:
            return redirect_to_login(request.get_full_path())
        return login_required("Sign in to move money.")
    limited = transfer_rate_hit(ident=client_ident(request))
    if not limited.allowed:
        if html:
            refused = RequestError(429, "rate_limited", rate_limit_message(limited, what="transfers"))
            page = _html_error(request, request.POST.dict(), refused)  # a form post: never JSON here
            page["Retry-After"] = str(limited.retry_after)
            return page
        return too_many_requests(limited, what="transfers")
    data: dict[str, Any] = {}
    try:
        data = _request_data(request)
        if isinstance(data, list):
            return _transfers_many(request, data)
        transfer = transfer_make(request, data)
    except RequestError as exc:
        return _html_error(request, data, exc) if html else _json_error(exc)
    if html:
        messages.success(
            request, f"Moved {money_format(transfer.amount)} to {transfer.target.name} (transfer #{transfer.pk})."
        )
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
