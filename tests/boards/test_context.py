"""The boards page providers: what each returns, and that no two of a page write the same key."""

import pytest
from django.test import RequestFactory

from boards.conf import setting
from boards.context import board_header, board_list, board_value, notify_form
from boards.models import Board
from boards.selectors import board_state
from switchboard.providers import build_context, providers_from_setting, site_providers


@pytest.fixture
def rf_request(rf: RequestFactory, user):
    request = rf.get("/boards/")
    request.user = user
    request.session = {}
    request._messages = []
    return request


def test_board_list_reads_every_board_with_its_state(rf_request, board):
    rows = board_list(rf_request)["board_rows"]
    row = next(r for r in rows if r["board"].name == board)
    assert row["state"].version == 1
    assert row["progress"] == {"percent": 10.0, "message": "start"}


def test_board_value_gives_the_state_progress_and_next_url(rf_request, board):
    context = board_value(rf_request, state=board_state(name=board))
    assert context["next_update_url"] == f"/boards/{board}/watch?ts=1"
    assert context["progress"]["percent"] == 10.0


def test_notify_form_is_for_staff_and_permitted_users(rf_request, staff_user, board):
    model = Board.objects.get(name=board)
    assert notify_form(rf_request, board=model) == {"can_notify": False}
    rf_request.user = staff_user
    assert notify_form(rf_request, board=model) == {"can_notify": True}


def test_board_header_passes_the_record(rf_request, board):
    model = Board.objects.get(name=board)
    assert board_header(rf_request, board=model) == {"board": model}


@pytest.mark.parametrize("setting_name", ["BOARDS_INDEX_PROVIDERS", "BOARDS_BOARD_PROVIDERS"])
def test_page_providers_do_not_collide_with_each_other_or_the_site(rf_request, board, setting_name):
    model = Board.objects.get(name=board)
    providers = [*site_providers(), *providers_from_setting(setting_name, setting(setting_name))]
    context = build_context(rf_request, providers, board=model, state=board_state(name=board))  # raises on collision
    assert "nav_items" in context
