"""Print a room's history after N, then follow it live until Ctrl-C (redis-cli SUBSCRIBE, with history)."""

import asyncio
import contextlib
import json

from django.core.management.base import BaseCommand, CommandError

from chat.models import Room
from chat.selectors import messages_follow, room_get


def format_line(data: bytes) -> str:
    """One message as a line: #seq time author: text."""
    message = json.loads(data)
    author = message["author"] or "system"
    return f"#{message['seq']} {message['created']} {author}: {message['text']}"


class Command(BaseCommand):
    help = "Print a chat room's messages after --after N, then follow new ones live until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("room", help="the room's slug")
        parser.add_argument("--after", type=int, default=0, help="start after this sequence number (default 0)")
        parser.add_argument("--json", action="store_true", help="print each message's JSON envelope")

    def handle(self, *args, room: str, after: int, json: bool, **options):
        if after < 0:
            raise CommandError("--after must be a non-negative integer.")
        try:
            found = room_get(slug=room)
        except Room.DoesNotExist:
            raise CommandError(f"Room {room!r} does not exist: `manage.py chat_post` needs an existing room too.")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(self.follow(found, after, as_json=json))

    async def follow(self, room: Room, after: int, *, as_json: bool) -> None:
        async for envelope in messages_follow(room=room, after=after):
            line = envelope.data.decode() if as_json else format_line(envelope.data)
            self.stdout.write(line)
            self.stdout.flush()
