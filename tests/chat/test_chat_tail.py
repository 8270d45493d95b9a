"""chat_tail: prints history after N, then follows live (a real child process), until Ctrl-C."""

import json
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command

from chat.services import message_post
from tests.conftest import ROOT, run_manage


def read_lines(proc: subprocess.Popen, count: int, timeout: float = 20) -> list[str]:
    lines = []
    deadline = time.monotonic() + timeout
    while len(lines) < count:
        assert time.monotonic() < deadline, f"only {lines!r}"
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"chat_tail exited early: {proc.stderr.read()}")
        lines.append(line.rstrip("\n"))
    return lines


@pytest.mark.django_db(transaction=True)
def test_chat_tail_prints_history_after_n_then_live_until_interrupted(child_env, room, user):
    for i in range(3):
        message_post(room=room, author=user, text=f"old{i}")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "chat_tail", room.slug, "--after", "1"],
        env={**child_env, "PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        history = read_lines(proc, 2)
        assert history[0].startswith("#2 ") and history[0].endswith(" alice: old1")
        assert history[1].startswith("#3 ") and history[1].endswith(" alice: old2")
        message_post(room=room, author=None, text="live <b>one</b>")
        assert read_lines(proc, 1)[0].endswith(" system: live <b>one</b>")
        # Posted by another process (chat_post): reaches the tail too.
        assert run_manage(child_env, "chat_post", room.slug, "from the shell", "--as", "alice").returncode == 0
        line = read_lines(proc, 1)[0]
        assert line.startswith("#5 ") and line.endswith(" alice: from the shell")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.django_db(transaction=True)
def test_chat_tail_json_prints_the_envelopes(child_env, room):
    message_post(room=room, author=None, text="x")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "chat_tail", room.slug, "--json"],
        env={**child_env, "PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        envelope = json.loads(read_lines(proc, 1)[0])
        assert envelope["seq"] == 1 and envelope["text"] == "x" and envelope["room"] == room.slug
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["no-such-room"], "does not exist"), (["{room}", "--after", "-1"], "non-negative")],
)
def test_chat_tail_bad_input_is_a_command_error(room, args, fragment):
    with pytest.raises(CommandError, match=fragment):
        call_command("chat_tail", *[a.format(room=room.slug) for a in args])
