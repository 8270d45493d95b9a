"""demo_load: a board with a value, idempotent; and manage.py demo_setup loads it."""

import pytest

from boards.models import Board
from boards.selectors import board_get, board_state
from boards.services import board_delete
from config.demo.boards import DEMO_BOARD, demo_load
from tests.conftest import run_manage


@pytest.fixture
def clean_demo_board(db):
    """The demo board has a fixed name: start without it, and leave none behind on a shared Redis."""
    for board in Board.objects.filter(name=DEMO_BOARD):
        board_delete(board=board)
    from boards.services import board_key
    from switchboard.connections import redis_sync

    redis_sync().delete(board_key(DEMO_BOARD))
    yield
    for board in Board.objects.filter(name=DEMO_BOARD):
        board_delete(board=board)


def test_demo_load_creates_a_board_with_a_value_once(clean_demo_board, admin_user_):
    summary = demo_load(admin=admin_user_)
    assert DEMO_BOARD in summary
    assert board_get(name=DEMO_BOARD) == (1, {"percent": 40, "message": "copying"})
    demo_load(admin=admin_user_)
    assert board_state(name=DEMO_BOARD).version == 1  # idempotent: no second value
    assert Board.objects.filter(name=DEMO_BOARD).count() == 1


def test_demo_setup_command_loads_the_board(clean_demo_board, child_env):
    result = run_manage(child_env, "demo_setup")
    assert result.returncode == 0, result.stderr
    assert "boards: board 'demo-progress' at version 1" in result.stdout
