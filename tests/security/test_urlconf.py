"""Every endpoint the URLconf serves is in the security table, and the read-only ones refuse writes."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security.endpoints import READ_ONLY, STATE_CHANGING_NAMES

ADMIN_PREFIX = "admin/"  # the admin and django-rq's dashboard: staff-only, see test_admin.py


def site_patterns(patterns=None, prefix: str = "", namespace: str = "") -> list[tuple[str, str | None]]:
    """(route, URL name with its namespace) of every endpoint of the site, in URLconf order."""
    found = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            found += site_patterns(pattern.url_patterns, route, inner)
        elif isinstance(pattern, URLPattern):
            found.append((route, f"{namespace}{pattern.name}" if pattern.name else None))
    return found


def test_every_endpoint_outside_the_admin_is_listed_as_read_only_or_state_changing():
    patterns = [(route, name) for route, name in site_patterns() if not route.startswith(ADMIN_PREFIX)]
    assert len(patterns) > 20
    unnamed = [route for route, name in patterns if name is None]
    assert unnamed == [], "name these URL patterns so the security table can list them"
    names = {name for _route, name in patterns}
    unlisted = names - set(READ_ONLY) - STATE_CHANGING_NAMES
    assert unlisted == set(), f"add {sorted(unlisted)} to tests/security/endpoints.py (and prove its permissions)"
    stale = (set(READ_ONLY) | STATE_CHANGING_NAMES) - names
    assert stale == set(), f"{sorted(stale)} are no longer in the URLconf: drop them from the table"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(name for name, kwargs in READ_ONLY.items() if kwargs is not None))
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_read_only_endpoints_refuse_other_methods_with_405(client, staff_user, name, method):
    client.force_login(staff_user)  # signed in as staff, so nothing but the method can refuse
    response = getattr(client, method)(reverse(name, kwargs=READ_ONLY[name]))
    assert response.status_code == 405, f"{name} answered {method.upper()} with {response.status_code}"
