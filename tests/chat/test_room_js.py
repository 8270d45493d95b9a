"""The room page's script (chat/static/chat/room.js) run by Node against a minimal DOM: it resumes
from the last rendered seq, shows each seq once and in order across a drop, closes its stream when the
window goes offline and reopens it after the last seq shown when it is back online, never writes HTML
from user text, and posts JSON with the CSRF header without reloading; a refused post shows the server's
sentence (chat's own `error`, the shared limits' `message`)."""

import json
import subprocess

from tests.conftest import ROOT


def run_script() -> dict:
    harness = ROOT / "tests" / "chat" / "room_js_harness.js"
    result = subprocess.run(
        ["node", str(harness), str(ROOT / "chat" / "static" / "chat" / "room.js")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_room_script_follows_resumes_and_posts():
    out = run_script()
    assert out["streamUrl"] == "/chat/r/stream?after=2"
    assert out["statusAfterDrop"] == "Reconnecting…"
    assert out["log"] == [
        {"seq": "3", "author": "alice", "text": "three"},
        {"seq": "4", "author": "system", "text": "<b>four</b>"},
        {"seq": "5", "author": "alice", "text": "five"},
        {"seq": "6", "author": "system", "text": "six"},
        {"seq": "7", "author": "alice", "text": "seven"},
        {"seq": "8", "author": "system", "text": "eight"},
    ]
    assert out["innerHTMLWrites"] == 0
    assert out["post"]["url"] == "/chat/r/messages" and out["post"]["method"] == "POST"
    assert out["post"]["headers"]["X-CSRFToken"] == "tok-123"
    assert out["post"]["headers"]["Content-Type"] == "application/json"
    assert json.loads(out["post"]["body"]) == {"text": "hello"}
    assert out["clearedAfter201"] is True
    assert out["keptAfter400"] == "xxxxx"
    assert out["error"] == {"hidden": False, "text": "Message text is too long."}


def test_room_script_shows_the_message_of_a_shared_limit_error_not_its_code():
    out = run_script()
    assert out["rateLimited"] == {"hidden": False, "text": "Too many messages: try again in 7 s.", "kept": "xxxxx"}


def test_room_script_closes_its_stream_offline_and_resumes_after_the_last_seq_online():
    out = run_script()
    assert out["offline"] == {
        "closed": True,
        "status": "Offline: new messages will appear when the connection is back.",
        "sources": 1,
    }
    # One new stream for two online events, from the last seq shown (6), not the rendered one (2).
    assert out["online"] == {"sources": 2, "url": "/chat/r/stream?after=6", "status": "Reconnecting…"}
    assert out["statusAfterResume"] == "Live."
    assert [entry["seq"] for entry in out["log"]] == ["3", "4", "5", "6", "7", "8"]
