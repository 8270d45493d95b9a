"""The admin: a superuser signs in through /admin/login/ and lists every model of the four apps."""

import re

import pytest
from django.contrib import admin
from playwright.sync_api import expect

APP_LABELS = ("chat", "jobs", "boards", "ledger")
# auth's models are listed too, so that the scenario checks the listing even before an app registers one.
CONTROL_LABELS = ("auth",)


def models_in_admin(labels) -> list[tuple[str, str, str, str]]:
    """(app_label, model_name, verbose_name, verbose_name_plural) of the models registered for ``labels``."""
    return sorted(
        (meta.app_label, meta.model_name, str(meta.verbose_name), str(meta.verbose_name_plural))
        for meta in (model._meta for model in admin.site._registry)
        if meta.app_label in labels
    )


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(username="root", password="root-pass-123")


def test_superuser_signs_in_to_the_admin_and_lists_each_apps_models(page, superuser, screenshot):
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    page.fill("#id_username", "root")
    page.fill("#id_password", "root-pass-123")
    with page.expect_navigation():
        page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("#user-tools")).to_contain_text("root")

    listed = models_in_admin(APP_LABELS + CONTROL_LABELS)
    assert listed, "nothing is registered in the admin"
    for app_label, model_name, _name, plural in listed:
        link = page.locator(f"#content-main a[href='/admin/{app_label}/{model_name}/']").first
        expect(link).to_have_text(re.compile(re.escape(plural), re.IGNORECASE))
    screenshot(page, "admin")

    for app_label, model_name, name, _plural in listed:
        response = page.goto(f"/admin/{app_label}/{model_name}/")
        assert response.status == 200, f"/admin/{app_label}/{model_name}/ answered {response.status}"
        expect(page.locator("#changelist")).to_be_visible()
        # "Select <name> to change", or "to view" for a read-only model.
        expect(page.locator("#content h1")).to_contain_text(re.compile(re.escape(name), re.I))
    assert not page.problems, page.problems


def test_admin_refuses_a_user_who_is_not_staff(page, user):
    page.goto("/admin/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-pass-123")
    with page.expect_navigation():
        page.click("input[type=submit]")
    expect(page.locator(".errornote")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/admin/login/$"))
