"""The admin (and django-rq's dashboard under it) is staff-only: everyone else is sent to the admin login."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

APPS = {"chat", "jobs", "boards", "ledger"}


def app_admin_urls() -> list[str]:
    """Every changelist and add page the four apps register."""
    urls = []
    for model in admin.site._registry:
        meta = model._meta
        if meta.app_label in APPS:
            urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
            urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
    return urls


def test_every_app_has_admin_pages():
    labels = {url.split("/")[2] for url in app_admin_urls()}
    assert labels == APPS


RQ_URLS = [
    "/admin/rq/",
    "/admin/rq/queues/0/",
    "/admin/rq/workers/0/",
    "/admin/rq/queues/0/empty/",
    "/admin/rq/metrics",
]


@pytest.mark.parametrize("who", ["anonymous", "signed_in"])
def test_non_staff_are_sent_to_the_admin_login(client, user, who):
    if who == "signed_in":
        client.force_login(user)
    for url in ["/admin/", *app_admin_urls(), *RQ_URLS]:
        response = client.get(url)
        assert response.status_code == 302, (url, response.status_code)
        assert response["Location"].startswith("/admin/login/?next="), url
    for url in app_admin_urls():  # writes too
        response = client.post(url, {})
        assert response.status_code == 302, (url, response.status_code)
        assert response["Location"].startswith("/admin/login/?next="), url


def test_the_rq_stats_api_needs_staff_or_its_token(client, user):
    client.force_login(user)
    for url in ["/admin/rq/stats.json", "/admin/rq/stats.json/wrongtoken/"]:
        response = client.get(url)
        assert response.status_code == 401, (url, response.status_code)
        assert b"queues" not in response.content


def test_staff_get_in(client, admin_user_):
    client.force_login(admin_user_)
    for url in ["/admin/", *app_admin_urls(), "/admin/rq/"]:
        response = client.get(url)
        assert response.status_code in (200, 403), (url, response.status_code)  # 403: add is refused for some
