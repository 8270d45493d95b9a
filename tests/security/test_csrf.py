"""CSRF: every POST endpoint refuses a browser post without the token, and takes it with one."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security.endpoints import STATE_CHANGING, Call

pytestmark = pytest.mark.django_db


def allowed_call(endpoint) -> tuple[str | None, Call, int]:
    """Someone who may use the endpoint, so that only the token can make the difference."""
    if endpoint.allowed:
        return endpoint.allowed[0]
    call, status = endpoint.anonymous[0]
    return None, call, status


@pytest.mark.parametrize("endpoint", STATE_CHANGING, ids=[e.name for e in STATE_CHANGING])
def test_posts_without_the_csrf_token_are_refused_with_403(site, endpoint):
    who, call, _status = allowed_call(endpoint)
    browser = Client(enforce_csrf_checks=True)
    if who:
        browser.force_login(getattr(site, who))
    response = call.send(browser, site)
    assert response.status_code == 403, response.content[:300]
    assert b"CSRF" in response.content


@pytest.mark.parametrize("endpoint", STATE_CHANGING, ids=[e.name for e in STATE_CHANGING])
def test_posts_with_the_csrf_token_get_through(site, endpoint):
    who, call, status = allowed_call(endpoint)
    browser = Client(enforce_csrf_checks=True)
    if who:
        browser.force_login(getattr(site, who))
    browser.get("/accounts/login/")  # sets the csrftoken cookie
    token = browser.cookies["csrftoken"].value
    response = call.send(browser, site, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == status, response.content[:300]


def test_a_post_from_another_origin_is_refused_even_with_the_token(site):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(site.alice)
    browser.get("/accounts/login/")
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        f"/chat/{site.room.slug}/messages",
        '{"text": "hi"}',
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
