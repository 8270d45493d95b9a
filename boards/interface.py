"""The boards app's public interface for sibling apps (jobs' progress bars use it).

- ``board_notify(*, name, value, private=False) -> int``: store and publish a JSON value; returns its version
  (``private=True`` makes the board readable only as BOARDS_READ_PERMISSION allows).
- ``board_get(*, name) -> (version, value)``: (0, None) before the first value; BoardNotFound if unknown.
- ``board_create(*, name, title="", description="", private=False)``: create the record before any value.
- ``board_watch(*, name, since, timeout) -> BoardState`` (async): wait for a version other than ``since``.
- ``board_watch_url(*, name, since=None) -> str``: the long-poll URL (GET /boards/<name>/watch?ts=...).
"""

from boards.selectors import BoardState, board_get, board_watch, board_watch_url
from boards.services import BoardError, BoardNotFound, ValueTooLarge, board_create, board_notify

__all__ = [
    "BoardError",
    "BoardNotFound",
    "BoardState",
    "ValueTooLarge",
    "board_create",
    "board_get",
    "board_notify",
    "board_watch",
    "board_watch_url",
]
