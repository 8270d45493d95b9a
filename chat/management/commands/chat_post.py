"""Post a message to a room from the command line (it reaches live readers like any other)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from chat.models import Room
from chat.selectors import room_get
from chat.services import ChatError, message_post


class Command(BaseCommand):
    help = "Post a message to a chat room (as a user with --as, else as a system message)."

    def add_arguments(self, parser):
        parser.add_argument("room", help="the room's slug")
        parser.add_argument("text", help="the message text (1 to CHAT_MAX_TEXT characters)")
        parser.add_argument("--as", dest="username", default=None, help="post as this user")

    def handle(self, *args, room: str, text: str, username: str | None, **options):
        try:
            found = room_get(slug=room)
        except Room.DoesNotExist:
            raise CommandError(f"Room {room!r} does not exist: create it on /chat/ or in the admin first.")
        author = None
        if username is not None:
            try:
                author = get_user_model().objects.get_by_natural_key(username)
            except get_user_model().DoesNotExist:
                raise CommandError(f"User {username!r} does not exist: check the name or omit --as.")
        try:
            message = message_post(room=found, author=author, text=text)
        except ChatError as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"Posted #{message.seq} to {found.slug}.")
