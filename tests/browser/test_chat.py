"""Chat: two users in one room see each other's messages live; one goes offline and, back online,
shows every message posted meanwhile exactly once, in order."""

import re

from playwright.sync_api import Page, expect

from chat.models import Message
from chat.services import message_post, room_create

OFFLINE = "Offline: new messages will appear when the connection is back."
# Long enough for a message fanned out to the online page to have reached a stream still open.
SETTLE_MS = 500


def shown(page: Page) -> list[tuple[int, str]]:
    """(seq, text) of every message the page shows, in page order."""
    return [
        (int(seq), text)
        for seq, text in page.locator("#chat-log .chat-message").evaluate_all(
            "items => items.map(li => [li.dataset.seq, li.querySelector('.chat-text').textContent])"
        )
    ]


def stored(room) -> list[tuple[int, str]]:
    """(seq, text) of every message of the room in the database, by seq."""
    return list(Message.objects.filter(room=room).order_by("seq").values_list("seq", "text"))


def post(page: Page, text: str) -> None:
    """Type a message and press Enter; the box empties once the server answered 201."""
    page.fill("#chat-text", text)
    page.press("#chat-text", "Enter")
    expect(page.locator("#chat-text")).to_have_value("")


def open_room(page: Page, room) -> Page:
    page.goto(f"/chat/{room.slug}/")
    expect(page.locator("#chat-status")).to_have_text("Live.")
    return page


def message(page: Page, text: str):
    return page.locator("#chat-log .chat-message .chat-text", has_text=re.compile(f"^{re.escape(text)}$"))


def test_two_users_chat_live_and_the_one_back_online_shows_every_message_once_in_order(
    signed_in, user, other_user, screenshot
):
    room = room_create(slug="browser-room", title="Browser room")
    message_post(room=room, author=None, text="Welcome to the browser room.")
    alice = open_room(signed_in(user), room)
    bob = open_room(signed_in(other_user), room)
    assert shown(alice) == shown(bob) == stored(room) == [(1, "Welcome to the browser room.")]

    post(alice, "Hello from Alice.")
    expect(message(bob, "Hello from Alice.")).to_have_count(1)
    post(bob, "Hi Alice, Bob here.")
    expect(message(alice, "Hi Alice, Bob here.")).to_have_count(1)
    before_offline = shown(bob)
    assert before_offline == shown(alice) == stored(room)

    bob.context.set_offline(True)
    expect(bob.locator("#chat-status")).to_have_text(OFFLINE)
    meanwhile = ["While Bob is away, one.", "While Bob is away, two.", "<b>not bold</b> & three."]
    for text in meanwhile:
        post(alice, text)
    message_post(room=room, author=user, text="Posted through the service.")
    message_post(room=room, author=None, text="A system message.")
    expected = stored(room)
    assert len(expected) == len(before_offline) + 5
    # Alice's page is the control: the messages are out on the live stream...
    expect(alice.locator("#chat-log .chat-message")).to_have_count(len(expected))
    bob.wait_for_timeout(SETTLE_MS)
    # ...and Bob's page, offline, did not receive them.
    assert shown(bob) == before_offline
    expect(bob.locator("#chat-status")).to_have_text(OFFLINE)

    bob.context.set_offline(False)
    expect(bob.locator("#chat-log .chat-message")).to_have_count(len(expected))
    expect(bob.locator("#chat-status")).to_have_text("Live.")
    seqs = [seq for seq, _ in shown(bob)]
    assert seqs == sorted(set(seqs)) == list(range(1, len(expected) + 1)), "strictly increasing, complete"
    assert shown(bob) == shown(alice) == expected == stored(room)
    # User text is shown as text, never parsed as HTML.
    expect(message(bob, "<b>not bold</b> & three.")).to_have_count(1)
    assert bob.locator("#chat-log b").count() == 0

    # Live again after coming back: a message from Alice reaches Bob once more.
    post(alice, "Welcome back, Bob.")
    expect(message(bob, "Welcome back, Bob.")).to_have_count(1)
    assert shown(bob) == stored(room)
    screenshot(bob, "chat-room")
    assert not alice.problems, alice.problems
    assert not bob.problems, bob.problems
