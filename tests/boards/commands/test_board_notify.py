"""manage.py board_notify NAME JSON."""

import pytest
from django.core.management import CommandError, call_command

from boards.selectors import board_get
from tests.conftest import run_manage


def test_notify_command_posts_the_value_in_a_child_process(child_env, board_name):
    result = run_manage(child_env, "board_notify", board_name, '{"percent": 40, "message": "copying"}')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{board_name}: version 1"
    assert board_get(name=board_name) == (1, {"percent": 40, "message": "copying"})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ok-name", "{not json", "not JSON"),
        ("Bad Name", "1", "invalid"),
        ("ok-name", '"' + "x" * 40 + '"', "BOARDS_MAX_VALUE_BYTES"),
    ],
)
def test_notify_command_bad_input_is_a_command_error(settings, name, value, message):
    settings.BOARDS_MAX_VALUE_BYTES = 20
    with pytest.raises(CommandError, match=message):
        call_command("board_notify", name, value)


@pytest.mark.django_db
def test_notify_command_reports_redis_down(settings, board_name):
    from switchboard.embedded_redis import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(CommandError, match="REDIS_URL"):
        call_command("board_notify", board_name, "1")
