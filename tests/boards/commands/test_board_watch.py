"""manage.py board_watch NAME [--since N]: the current value, then each update, until Ctrl-C."""

import signal
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from boards.services import board_notify
from tests.conftest import ROOT


def start_watch(env, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-u", str(ROOT / "manage.py"), "board_watch", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_watch_command_prints_current_value_then_each_update(child_env, board):
    process = start_watch(child_env, board, "--count", "3")
    try:
        assert process.stdout.readline().strip() == '1 {"percent":10,"message":"start"}'
        board_notify(name=board, value="two")
        assert process.stdout.readline().strip() == '2 "two"'
        board_notify(name=board, value={"percent": 100})
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert out.strip() == '3 {"percent":100}'
    assert process.returncode == 0, err


def test_watch_command_since_waits_for_a_newer_version_and_stops_on_ctrl_c(child_env, board):
    process = start_watch(child_env, board, "--since", "1")
    try:
        board_notify(name=board, value="next")
        assert process.stdout.readline().strip() == '2 "next"'
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err


@pytest.mark.django_db
def test_watch_command_prints_no_value_yet(board_name):
    from boards.services import board_create

    board_create(name=board_name)
    out = StringIO()
    call_command("board_watch", board_name, "--count", "1", stdout=out)
    assert out.getvalue().strip() == "0 (no value yet)"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["t-no-such-board-here"], "No board named"),
        (["whatever", "--since", "-1"], "--since"),
        (["whatever", "--count", "0"], "--count"),
    ],
)
def test_watch_command_bad_input_is_a_command_error(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("board_watch", *args)
