"""The public module sibling apps use (jobs: progress bars on job-<id> boards)."""

import pytest

from boards import interface


def test_interface_exports_what_siblings_need():
    assert set(interface.__all__) >= {"board_notify", "board_get", "board_watch", "board_watch_url", "BoardError"}


@pytest.mark.django_db
def test_a_sibling_can_post_and_read_a_progress_board():
    name = "job-424242"
    try:
        before = interface.board_notify(name=name, value={"percent": 5, "message": "queued"})
        assert interface.board_get(name=name) == (before, {"percent": 5, "message": "queued"})
        assert interface.board_watch_url(name=name, since=before) == f"/boards/{name}/watch?ts={before}"
        with pytest.raises(interface.BoardNotFound):
            interface.board_get(name="job-never-reported-0")
    finally:
        from boards.models import Board
        from boards.services import board_delete

        board_delete(board=Board.objects.get(name=name))
