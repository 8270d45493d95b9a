"""A writer process for the concurrency tests: posts COUNT messages into a room through the service.

python -m tests.chat.writer <room> <writer-id> <count> [<pause-seconds> [<gate-dir> <at>,<at>...]]
(environment from child_env). With a gate directory the writer stops after posting ``at`` messages and
waits until the file ``<gate-dir>/<at>`` exists, so a test decides what happens between two waves of posts.
"""

import sys
import time
from pathlib import Path


def main() -> None:
    import django

    django.setup()
    from chat.selectors import room_get
    from chat.services import message_post

    slug, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    gate_dir = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    gates = {int(at) for at in sys.argv[6].split(",")} if gate_dir else set()
    room = room_get(slug=slug)
    for i in range(count):
        if i in gates:
            while not (gate_dir / str(i)).exists():
                time.sleep(0.005)
        message_post(room=room, author=None, text=f"w{writer}-{i}")
        if pause:
            time.sleep(pause)
    print(f"writer {writer} done", flush=True)


if __name__ == "__main__":
    main()
