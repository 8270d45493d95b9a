"""manage.py board_watch NAME [--since N]: print the current value, then each update, until Ctrl-C."""

import asyncio

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from boards.selectors import BoardState, board_watch
from boards.services import BoardNotFound


class Command(BaseCommand):
    help = "Print a board's current value (or the first one newer than --since), then each update, until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("name", help="board name")
        parser.add_argument("--since", type=int, default=None, help="wait for a version newer than this one first")
        parser.add_argument("--count", type=int, default=None, help="stop after printing this many values")

    def handle(self, *args, name: str, since: int | None, count: int | None, **options):
        if since is not None and since < 0:
            raise CommandError("--since must be a version of 0 or more.")
        if count is not None and count < 1:
            raise CommandError("--count must be 1 or more.")
        try:
            asyncio.run(self.follow(name, since, count))
        except KeyboardInterrupt:
            self.stdout.write("")
        except BoardNotFound as exc:
            raise CommandError(str(exc))
        except RedisError as exc:
            raise CommandError(f"Redis does not answer ({exc}); check REDIS_URL.")

    async def follow(self, name: str, since: int | None, count: int | None) -> None:
        printed = 0
        while count is None or printed < count:
            state = await board_watch(name=name, since=since, timeout=60)
            if since is not None and state.version == since:
                continue  # the wait timed out with no change: wait again
            self.show(state)
            printed += 1
            since = state.version

    def show(self, state: BoardState) -> None:
        value = state.value_json if state.has_value else "(no value yet)"
        self.stdout.write(f"{state.version} {value}")
        self.stdout.flush()
