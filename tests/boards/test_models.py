"""The Board record."""

import pytest
from django.db import IntegrityError

from boards.models import Board


@pytest.mark.django_db
def test_board_shows_its_title_or_name_and_names_are_unique(board_name):
    board = Board.objects.create(name=board_name)
    assert str(board) == board_name
    board.title = "Nightly backup"
    assert str(board) == "Nightly backup"
    with pytest.raises(IntegrityError):
        Board.objects.create(name=board_name)


@pytest.mark.django_db
def test_the_notify_permission_exists():
    from django.contrib.auth.models import Permission

    assert Permission.objects.filter(codename="notify_board", content_type__app_label="boards").exists()
