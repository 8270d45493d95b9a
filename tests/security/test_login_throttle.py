"""Row 8 of issue 13: sign-ins are throttled after a few failures per user and per address (site and admin)."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def attempt(client, username: str, password: str, *, admin: bool = False, address: str = "127.0.0.1"):
    url = reverse("admin:login") if admin else reverse("login")
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("admin", [False, True], ids=["site login", "admin login"])
def test_after_a_few_failures_for_one_user_the_right_password_is_refused(client, site, settings, admin):
    settings.SWITCHBOARD_LOGIN_FAILURES_PER_USER = 5
    for n in range(5):
        attempt(client, "staffer", "wrong", admin=admin, address=f"10.0.0.{n}")  # one address each
    right = attempt(client, "staffer", "staffer-pass-123", admin=admin, address="10.0.1.1")
    assert not signed_in(client)
    if not admin:
        assert right.status_code == 429
        assert "Too many failed sign-ins" in right.content.decode()
        assert int(right["Retry-After"]) >= 1
    # Another user is not locked out by them.
    assert attempt(client, "alice", "alice-pass-123", admin=admin, address="10.0.1.1").status_code in (200, 302)
    if not admin:
        assert signed_in(client)


def test_after_many_failures_from_one_address_every_user_is_refused_from_it(client, site, settings):
    settings.SWITCHBOARD_LOGIN_FAILURES_PER_ADDRESS = 8
    for n in range(8):
        attempt(client, f"user{n}", "wrong", address="192.0.2.7")
    assert attempt(client, "alice", "alice-pass-123", address="192.0.2.7").status_code == 429
    assert not signed_in(client)
    assert attempt(client, "alice", "alice-pass-123", address="192.0.2.8").status_code == 302
    assert signed_in(client)


def test_forty_wrong_passwords_then_the_right_one_is_refused(client, site):
    for _ in range(40):
        attempt(client, "alice", "wrong")
    attempt(client, "alice", "alice-pass-123")
    assert not signed_in(client)


def test_a_successful_sign_in_clears_the_users_failures(client, site, settings):
    settings.SWITCHBOARD_LOGIN_FAILURES_PER_USER = 3
    for _ in range(2):
        attempt(client, "alice", "wrong", address="10.9.0.1")
    assert attempt(client, "alice", "alice-pass-123", address="10.9.0.1").status_code == 302
    client.logout()
    for _ in range(2):
        attempt(client, "alice", "wrong", address="10.9.0.1")
    assert attempt(client, "alice", "alice-pass-123", address="10.9.0.1").status_code == 302
