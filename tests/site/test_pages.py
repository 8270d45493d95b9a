"""Every site page renders for anonymous and signed-in users."""

import pytest
from django.urls import reverse

PAGES = ["home", "login", "chat:index", "jobs:index", "boards:index", "ledger:index"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_page_renders_for_anonymous(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b"Log in" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_page_renders_for_signed_in_user(client, user, name):
    client.force_login(user)
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b"alice" in response.content
    assert b"Log out" in response.content


@pytest.mark.django_db
def test_navigation_links_every_app_and_the_admin(client):
    html = client.get("/").content.decode()
    for href in ("/chat/", "/jobs/", "/boards/", "/ledger/", "/admin/"):
        assert f'href="{href}"' in html


@pytest.mark.django_db
def test_admin_needs_staff(client, user, admin_user_):
    assert client.get("/admin/").status_code == 302
    client.force_login(user)
    assert client.get("/admin/").status_code == 302
    client.force_login(admin_user_)
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_login_and_logout(client, user):
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-pass-123"})
    assert response.status_code == 302
    assert "alice" in client.get("/").content.decode()
    assert client.post(reverse("logout")).status_code == 302
    assert "Log in" in client.get("/").content.decode()


@pytest.mark.django_db
def test_static_css_is_served(live_asgi):
    import httpx

    response = httpx.get(f"{live_asgi}/static/switchboard/site.css")
    assert response.status_code == 200
    assert "site-header" in response.text
