"""Board writes: store a value with a strictly increasing version and publish it, atomically."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from boards.conf import setting
from switchboard.connections import redis_sync

if TYPE_CHECKING:
    from boards.models import Board

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")

# KEYS[1] the board hash, KEYS[2] its channel, KEYS[3] the set of known boards; ARGV[1] value JSON,
# ARGV[2] board name, ARGV[3] "1" to make the board private ("" leaves it as it is).
# Stores then publishes "<version>\n<value>" in one atomic script (no reader can
# see the stored value without the publish having happened, nor the reverse); returns
# {version, is_new} where is_new says the name was not yet in the known set.
_NOTIFY_LUA = """
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'value', ARGV[1])
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'private', '1') end
redis.call('PUBLISH', KEYS[2], version .. '\\n' .. ARGV[1])
local is_new = redis.call('SADD', KEYS[3], ARGV[2])
return {version, is_new}
"""


class BoardError(ValueError):
    """A board name or value is not acceptable; the message says why."""


class ValueTooLarge(BoardError):
    """The value's JSON is over BOARDS_MAX_VALUE_BYTES."""


class BoardNotFound(LookupError):
    """No board has this name (no record and no value)."""


class BoardForbidden(PermissionError):
    """The board is private and this user may not read it; ``signed_in`` says whether signing in could help."""

    def __init__(self, message: str, *, signed_in: bool) -> None:
        super().__init__(message)
        self.signed_in = signed_in


def board_key(name: str) -> str:
    """The Redis hash holding the board's version and value."""
    return f"{setting('BOARDS_KEY_PREFIX')}:{name}"


def board_channel(name: str) -> str:
    """The pub/sub channel announcing the board's new values."""
    return f"{setting('BOARDS_KEY_PREFIX')}:{name}:updates"


def known_key() -> str:
    """The Redis set of board names that have a database record."""
    return f"{setting('BOARDS_KEY_PREFIX')}:known"


def validate_name(name: str) -> str:
    """Board names are slugs: lowercase letters, digits, - and _, at most 100 characters."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise BoardError(f"Board name {name!r} is invalid: use lowercase letters, digits, '-' and '_' (at most 100).")
    return name


def encode_value(value: Any) -> str:
    """The value as compact JSON, refusing what is not JSON or is too large."""
    try:
        encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BoardError(f"Board values must be JSON: {exc}") from None
    limit = setting("BOARDS_MAX_VALUE_BYTES")
    try:
        size = len(encoded.encode())
    except UnicodeEncodeError:
        raise BoardError("Board values must be valid Unicode text: a string holds a lone surrogate.") from None
    if size > limit:
        raise ValueTooLarge(f"Board value is {size} bytes; the limit is {limit} (BOARDS_MAX_VALUE_BYTES).")
    return encoded


def board_notify(*, name: str, value: Any, private: bool = False) -> int:
    """Store ``value`` on board ``name`` and publish it; returns the new version.

    ``private=True`` makes the board private (from this value on, atomically with it); a private board stays so.
    """
    validate_name(name)
    encoded = encode_value(value)
    client = redis_sync()
    keys = (board_key(name), board_channel(name), known_key())
    version, is_new = client.eval(_NOTIFY_LUA, 3, *keys, encoded, name, "1" if private else "")
    if is_new:
        from boards.models import Board

        Board.objects.get_or_create(name=name)
    return int(version)


def board_create(*, name: str, title: str = "", description: str = "", private: bool = False) -> Board:
    """Create the board's record (no value yet), or return the existing one unchanged (``private`` makes it so)."""
    from boards.models import Board

    validate_name(name)
    board, _ = Board.objects.get_or_create(name=name, defaults={"title": title, "description": description})
    redis_sync().sadd(known_key(), name)
    if private:
        board_set_private(name=name, private=True)
    return board


def board_set_private(*, name: str, private: bool) -> None:
    """Make the board private (readable only as BOARDS_READ_PERMISSION allows) or public again."""
    validate_name(name)
    if private:
        redis_sync().hset(board_key(name), "private", "1")
    else:
        redis_sync().hdel(board_key(name), "private")


def board_delete(*, board: Board) -> None:
    """Delete the board's record, its value and version."""
    client = redis_sync()
    client.delete(board_key(board.name))
    client.srem(known_key(), board.name)
    board.delete()
