"""Every state-changing endpoint: anonymous clients are sent to sign in, signed-in users without the right get 403."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.shortcuts import resolve_url

from tests.security.endpoints import STATE_CHANGING, Endpoint

pytestmark = pytest.mark.django_db


def by_name(endpoints: list[Endpoint]):
    return pytest.mark.parametrize("endpoint", endpoints, ids=[e.name for e in endpoints])


def assert_status(response, expected, what: str) -> None:
    if expected == "login":
        assert response.status_code == 302, f"{what}: {response.status_code}"
        assert response["Location"].startswith(resolve_url(settings.LOGIN_URL) + "?next="), what
    else:
        assert response.status_code == expected, f"{what}: {response.status_code} {response.content[:300]!r}"


@by_name(STATE_CHANGING)
def test_anonymous_clients_are_refused_or_sent_to_sign_in(client, site, endpoint):
    for call, expected in endpoint.anonymous:
        assert_status(call.send(client, site), expected, f"anonymous {endpoint.name} {call}")


@by_name([e for e in STATE_CHANGING if e.forbidden])
def test_signed_in_users_without_the_right_get_403(client, site, endpoint):
    for who, call in endpoint.forbidden:
        client.force_login(getattr(site, who))
        assert_status(call.send(client, site), 403, f"{who} on {endpoint.name} {call}")


@by_name([e for e in STATE_CHANGING if e.allowed])
def test_users_with_the_right_get_through(client, site, endpoint):
    for who, call, expected in endpoint.allowed:
        client.force_login(getattr(site, who))
        assert_status(call.send(client, site), expected, f"{who} on {endpoint.name} {call}")


def test_refused_requests_changed_nothing(client, site):
    """The 403s above are refusals, not errors after the fact: no room, value, run or transfer came of them."""
    from boards.interface import board_get
    from chat.models import Room
    from jobs.models import JobRun
    from ledger.models import Transfer

    before = (Room.objects.count(), board_get(name=site.board), JobRun.objects.count(), Transfer.objects.count())
    for endpoint in STATE_CHANGING:
        for who, call in endpoint.forbidden:
            client.force_login(getattr(site, who))
            call.send(client, site)
        client.logout()
        for call, _expected in endpoint.anonymous:
            call.send(client, site)
    site.run.refresh_from_db()
    assert site.run.status == "scheduled"
    after = (Room.objects.count(), board_get(name=site.board), JobRun.objects.count(), Transfer.objects.count())
    assert after == before
