"""The room page's script (chat/static/chat/room.js) run by Node against a minimal DOM: it resumes
from the last rendered seq, shows each seq once and in order across a drop, never writes HTML from
user text, and posts JSON with the CSRF header without reloading."""

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
    ]
    assert out["innerHTMLWrites"] == 0
    assert out["post"]["url"] == "/chat/r/messages" and out["post"]["method"] == "POST"
    assert out["post"]["headers"]["X-CSRFToken"] == "tok-123"
    assert out["post"]["headers"]["Content-Type"] == "application/json"
    assert json.loads(out["post"]["body"]) == {"text": "hello"}
    assert out["clearedAfter201"] is True
    assert out["keptAfter400"] == "xxxxx"
    assert out["error"] == {"hidden": False, "text": "Message text is too long."}
