"""The chat app's public interface for sibling apps and hosts (everything else may change without notice).

- ``room_create(*, slug, title="") -> Room`` and ``room_get(*, slug) -> Room`` (Room.DoesNotExist if unknown).
- ``message_post(*, room, author, text) -> Message``: store the message (next seq), then publish it.
- ``messages_after(*, room, after_seq, limit) -> list[Message]``: the history after a seq, oldest first.
- ``messages_follow(*, room, after) -> AsyncIterator[Envelope]`` (async): history after ``after``, then live,
  in order, without gap or duplicate.
- ``ChatError``: a refused post or room (its message says why).
"""

from chat.selectors import messages_after, messages_follow, room_get
from chat.services import ChatError, message_post, room_create

__all__ = ["ChatError", "message_post", "messages_after", "messages_follow", "room_create", "room_get"]
