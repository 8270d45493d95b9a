"""Demo data for chat: two rooms with a few messages (idempotent)."""

from chat.models import Room
from chat.services import message_post

ROOMS = [
    ("lobby", "Lobby", ["Welcome to Switchboard chat.", "Messages are stored, numbered and delivered live."]),
    ("random", "Random", ["Anything goes here."]),
]


def demo_load(*, admin) -> str:
    """Create the demo rooms and their first messages unless they exist."""
    created = 0
    for slug, title, texts in ROOMS:
        room, new = Room.objects.get_or_create(slug=slug, defaults={"title": title})
        if new:
            created += 1
            for text in texts:
                message_post(room=room, author=admin, text=text)
    return f"{created} room(s) created, {Room.objects.count()} in all"
