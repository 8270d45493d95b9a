"""Row 6 of issue 13: a job's progress board is visible to whoever may see its run, nobody else; the board
index lists only readable boards; the lean watch/stream path (no middleware) reads the session itself."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from boards.services import board_create, board_notify
from jobs.progress import board_publish

pytestmark = pytest.mark.django_db(transaction=True)


def job_board(site) -> str:
    name = site.run.board_name
    board_publish(job_id=site.run.job_id, value={"percent": 30, "message": "secret progress"})
    return name


def test_anonymous_users_and_other_users_do_not_see_a_jobs_board(client, site):
    name = job_board(site)
    index = client.get(reverse("boards:index")).content.decode()
    assert name not in index
    assert site.board in index  # a public board is still listed
    assert client.get(reverse("boards:board", args=[name])).status_code in (302, 403, 404)
    for path in (f"/boards/{name}/watch", f"/boards/{name}/stream"):
        response = client.get(path)
        assert response.status_code in (401, 403), path
        assert b"secret progress" not in b"".join(response) if response.streaming else response.content
    client.force_login(site.bob)
    assert name not in client.get(reverse("boards:index")).content.decode()
    assert client.get(reverse("boards:board", args=[name])).status_code == 403
    assert client.get(f"/boards/{name}/watch").status_code == 403


def test_the_runs_owner_and_staff_see_its_board(client, site):
    name = job_board(site)
    for user in (site.alice, site.staff):
        client.force_login(user)
        assert name in client.get(reverse("boards:index")).content.decode()
        assert b"secret progress" in client.get(reverse("boards:board", args=[name])).content
        watch = client.get(f"/boards/{name}/watch")
        assert watch.status_code == 200 and watch.json()["value"]["message"] == "secret progress"


def test_a_board_created_private_is_read_by_staff_only_by_default(client, site, settings):
    settings.BOARDS_READ_PERMISSION = "boards.access.staff_only"
    board_create(name="staff-notes", private=True)
    board_notify(name="staff-notes", value={"note": "hush"})
    client.force_login(site.alice)
    assert client.get("/boards/staff-notes/watch").status_code == 403
    client.force_login(site.staff)
    assert client.get("/boards/staff-notes/watch").status_code == 200


def test_the_read_permission_hook_is_the_setting(client, site, settings):
    settings.BOARDS_READ_PERMISSION = "tests.security.test_private_boards.alice_only"
    board_create(name="for-alice", private=True)
    client.force_login(site.alice)
    assert client.get("/boards/for-alice/watch").status_code == 200
    client.force_login(site.staff)
    assert client.get("/boards/for-alice/watch").status_code == 403


def alice_only(user, board) -> bool:
    return user.is_authenticated and user.get_username() == "alice"


async def _get(url: str, cookies: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(cookies=cookies, timeout=10) as http:
        return await http.get(url)


def test_the_lean_asgi_path_reads_the_session_from_the_cookie(live_asgi, site, client):
    name = job_board(site)
    anonymous = asyncio.run(_get(f"{live_asgi}/boards/{name}/watch", {}))
    assert anonymous.status_code == 401
    assert b"secret progress" not in anonymous.content
    for user, status in ((site.bob, 403), (site.alice, 200), (site.staff, 200)):
        client.force_login(user)
        cookies = {django_settings.SESSION_COOKIE_NAME: client.cookies[django_settings.SESSION_COOKIE_NAME].value}
        response = asyncio.run(_get(f"{live_asgi}/boards/{name}/watch", cookies))
        assert response.status_code == status, (user, response.content)
    bogus = asyncio.run(_get(f"{live_asgi}/boards/{name}/watch", {django_settings.SESSION_COOKIE_NAME: "forged"}))
    assert bogus.status_code == 401
    # A public board needs no session at all.
    assert asyncio.run(_get(f"{live_asgi}/boards/{site.board}/watch", {})).status_code == 200
