"""Smoke: a signed-in user walks from the home page to every app page on the real site."""

import re

from playwright.sync_api import expect

APPS = [("Chat", "/chat/"), ("Jobs", "/jobs/"), ("Boards", "/boards/"), ("Ledger", "/ledger/")]


def test_home_page_links_to_every_app_page(signed_in, user, screenshot):
    page = signed_in(user)
    page.goto("/")
    expect(page.locator(".site-user .who")).to_have_text("alice")
    expect(page.locator(".cards a.card")).to_have_count(len(APPS))
    screenshot(page, "home")

    for label, path in APPS:
        page.goto("/")
        with page.expect_navigation():
            page.locator(".cards a.card", has_text=label).click()
        expect(page).to_have_url(re.compile(re.escape(path) + "$"))
        expect(page.locator(".site-nav a[aria-current=page]")).to_have_text(label)
        expect(page.locator("main h1").first).to_be_visible()
        screenshot(page, label.lower())

    assert not page.problems, page.problems


def test_site_navigation_reaches_every_app_page_anonymously(page):
    page.goto("/")
    expect(page.locator(".site-user")).to_contain_text("Log in")
    for label, path in APPS:
        with page.expect_navigation():
            page.locator(".site-nav a", has_text=label).click()
        expect(page).to_have_url(re.compile(re.escape(path) + "$"))
        # The site's stylesheet is served (WhiteNoise) and applied.
        assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).display") != "inline"
    assert not page.problems, page.problems


def test_page_problems_record_http_errors_a_scenario_may_expect(page):
    response = page.goto("/no-such-page/")
    assert response.status == 404
    assert page.problems.http == [f"404 {page.url}"]
    assert page.problems
    assert not page.problems.besides(404)
