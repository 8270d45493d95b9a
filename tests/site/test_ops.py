"""The operations page: staff only, every app's numbers and rates, cheap, live through the ops board."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards.interface import board_get
from chat.services import message_post
from config.ops import OPS_BOARD, ops_publish, ops_snapshot
from ledger.services import account_create, transfer_create

pytestmark = pytest.mark.django_db


def test_the_ops_page_is_for_staff_only(client, user, staff_user):
    assert client.get("/ops/").status_code == 302  # to the admin login
    client.force_login(user)
    assert client.get("/ops/").status_code == 302
    client.force_login(staff_user)
    assert client.get("/ops/").status_code == 200


def test_staff_see_the_ops_link_in_the_nav_and_the_admin(client, user, admin_user_):
    client.force_login(user)
    assert 'href="/ops/"' not in client.get("/").content.decode()
    client.force_login(admin_user_)
    assert 'href="/ops/"' in client.get("/").content.decode()
    assert 'href="/ops/"' in client.get("/admin/").content.decode()


def test_the_page_shows_each_apps_numbers_and_rates_and_they_move(
    client, staff_user, redis_client, django_capture_on_commit_callbacks
):
    client.force_login(staff_user)
    bank = account_create(name="bank", kind="system")
    alice = account_create(name="alice-ops")
    from chat.models import Room

    room = Room.objects.create(slug="ops-room", title="Ops")
    before = ops_snapshot()
    transfer_create(source=bank, target=alice, amount=100)
    with django_capture_on_commit_callbacks(execute=True):
        message_post(room=room, author=staff_user, text="hello")
    after = {s["title"]: s for s in ops_snapshot()["sections"]}
    rates = {p["counter"]: p["this_minute"] for s in after.values() for p in s["plots"]}
    old = {p["counter"]: p["this_minute"] for s in before["sections"] for p in s["plots"]}
    assert rates["ledger.settled"] == old["ledger.settled"] + 1
    assert rates["chat.messages"] == old["chat.messages"] + 1
    assert {"Jobs", "Ledger", "Chat", "Hub (this process)"} <= set(after)
    html = client.get("/ops/").content.decode()
    assert 'data-metric="Ledger: pending transfers">0<' in html
    assert html.count('<svg class="plot plot-rate"') == 5  # started, finished, failed, settled, messages
    assert "style=" not in html.split("<main", 1)[1]  # strict CSP: no inline styles in the page body


def test_publish_notifies_the_private_ops_board_with_the_headline(client, staff_user):
    version = ops_publish()
    got, value = board_get(name=OPS_BOARD)
    assert got == version and value["Ledger"]["pending transfers"] == 0 and "settled / min" in value["Ledger"]
    client.force_login(staff_user)
    html = client.get("/ops/").content.decode()
    assert f"/boards/{OPS_BOARD}/watch?ts={version}" in html
    assert client.get(f"/boards/{OPS_BOARD}/").status_code == 200
    client.logout()
    assert client.get(f"/boards/{OPS_BOARD}/watch?ts=0").status_code in (302, 401, 403, 404)  # private


def test_a_snapshot_costs_a_few_reads(staff_user):
    ops_snapshot()  # warm
    with CaptureQueriesContext(connection) as queries:
        ops_snapshot()
    assert len(queries) <= 2  # the ledger's pending count and oldest: no history scan
