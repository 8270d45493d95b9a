"""The site asks the installed apps what to show: nav entries and blurbs come from their AppConfigs."""

import pytest
from django.contrib.auth.models import AnonymousUser

from switchboard.providers import site_nav
from switchboard.registry import app_entries


def labels(rf) -> list[str]:
    request = rf.get("/")
    request.user = AnonymousUser()
    return [item["label"] for item in site_nav(request)["nav_items"]]


def test_nav_lists_the_installed_apps_in_installed_apps_order_then_the_sites_extra_links(rf):
    assert [entry.label for entry in app_entries()] == ["Boards", "Chat", "Jobs", "Ledger"]
    assert labels(rf) == ["Boards", "Chat", "Jobs", "Ledger", "Admin"]


def test_an_app_that_is_not_installed_leaves_the_nav_and_the_home_page(settings, client, db):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "chat"]
    settings.SWITCHBOARD_NAV_EXTRA = []
    html = client.get("/").content.decode()
    assert 'href="/chat/"' not in html and "gapless live delivery" not in html
    assert 'href="/boards/"' in html and "Notice boards: the last value" in html


def test_an_app_whose_urls_the_host_did_not_include_is_skipped(settings, rf):
    settings.ROOT_URLCONF = "tests.chat.urls_alone"
    assert labels(rf) == ["Chat"]


@pytest.mark.parametrize("app", ["chat", "jobs", "boards", "ledger"])
def test_each_app_declares_its_nav_entry_and_blurb(app):
    from django.apps import apps

    config = apps.get_app_config(app)
    assert config.nav_url == f"{app}:index" and config.nav_label and config.blurb and config.needs_redis
