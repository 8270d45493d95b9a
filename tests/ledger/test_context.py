"""Page providers: distinct keys with the site-wide ones, and lists that settings can change."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from ledger.context import account_providers, index_providers, request_error
from switchboard.providers import build_context, site_providers


def make_request(user):
    request = RequestFactory().get("/ledger/")
    request.user = user
    request._messages = []
    return request


def test_the_pages_providers_do_not_collide_with_the_site_ones(funded, user):
    request = make_request(user)
    build_context(request, [*site_providers(), *index_providers()])
    context = build_context(request, [*site_providers(), *account_providers()], account=funded["alice"])
    assert context["transfer_form"]["show"] and len(context["transfer_rows"]) == 1
    build_context(request, [*site_providers(), request_error], error_message="x")


def test_the_form_key_is_fresh_for_each_render(funded, user):
    first = build_context(make_request(user), account_providers(), account=funded["alice"])
    second = build_context(make_request(user), account_providers(), account=funded["alice"])
    assert first["transfer_form"]["idempotency_key"] != second["transfer_form"]["idempotency_key"]


def test_a_page_list_is_a_setting(client, funded, user, settings):
    settings.LEDGER_INDEX_PROVIDERS = ["tests.ledger.test_context.no_accounts"]
    client.force_login(user)
    assert b"You have no accounts yet" in client.get("/ledger/").content
    assert index_providers() == [no_accounts]


def no_accounts(request, **_):
    return {"accounts": [], "accounts_scope": "own"}


def test_a_visitor_sees_no_accounts(funded):
    assert build_context(make_request(AnonymousUser()), index_providers())["accounts"] == []
