"""manage.py board_notify NAME JSON: post a value to a board."""

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from boards.services import BoardError, board_notify
from switchboard.http import BadRequest, json_loads


class Command(BaseCommand):
    help = 'Post a JSON value to a board, for example: board_notify backup \'{"percent": 40, "message": "copying"}\''

    def add_arguments(self, parser):
        parser.add_argument("name", help="board name (lowercase letters, digits, - and _)")
        parser.add_argument("value", help="the value, as JSON")

    def handle(self, *args, name: str, value: str, **options):
        try:
            decoded = json_loads(value)  # the web API's parser: the same depth and Unicode rules
        except BadRequest as exc:
            raise CommandError(f"The value is not JSON ({exc}); quote it, e.g. '{{\"percent\": 40}}' or '\"text\"'.")
        try:
            version = board_notify(name=name, value=decoded)
        except BoardError as exc:
            raise CommandError(str(exc))
        except RedisError as exc:
            raise CommandError(f"Redis does not answer ({exc}); check REDIS_URL.")
        self.stdout.write(f"{name}: version {version}")
