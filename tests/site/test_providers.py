"""Context providers: explicit order, site-wide ones from settings, collisions refused."""

import pytest
from django.test import RequestFactory

from switchboard.providers import ProviderCollision, build_context, render_page, site_providers


def first(request, **_):
    return {"a": 1, "order": ["first"]}


def second(request, *, extra, **_):
    return {"b": extra, "seen_order": "second"}


def clash(request, **_):
    return {"a": 2}


def test_providers_merge_in_order_and_receive_kwargs(rf):
    context = build_context(rf.get("/"), [first, second], extra="x")
    assert context == {"a": 1, "order": ["first"], "b": "x", "seen_order": "second"}
    assert list(context) == ["a", "order", "b", "seen_order"]


def test_two_providers_writing_the_same_key_is_an_error(rf):
    with pytest.raises(ProviderCollision, match="'a' is provided by both"):
        build_context(rf.get("/"), [first, clash])


def test_site_providers_come_from_the_setting_and_follow_override_settings(settings):
    assert [p.__name__ for p in site_providers()] == ["site_nav", "signed_in_user", "flash_messages"]
    settings.SWITCHBOARD_SITE_PROVIDERS = ["tests.site.test_providers.first"]
    assert site_providers() == [first]


@pytest.mark.django_db
def test_render_page_runs_site_providers_first_then_the_page(settings, rf):
    settings.SWITCHBOARD_SITE_PROVIDERS = ["tests.site.test_providers.first"]
    request = RequestFactory().get("/")
    with pytest.raises(ProviderCollision):
        render_page(request, "home.html", [clash])


def test_the_site_providers_do_not_collide_with_any_page_provider_list():
    """Every page list of the project, combined with the site-wide providers, has distinct keys."""
    import importlib

    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    request._messages = []
    keys = set()
    for provider in site_providers():
        produced = provider(request)
        assert not keys & produced.keys()
        keys |= produced.keys()
    assert {"nav_items", "viewer", "flash", "site_name"} <= keys
    views = importlib.import_module("config.views")
    assert views.HOME_PAGE


def test_no_view_uses_get_context_data_super_chains():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for app in ("switchboard", "chat", "jobs", "boards", "ledger")
        for path in (root / app).rglob("*.py")
        if "get_context_data" in path.read_text()
    ]
    assert offenders == []
