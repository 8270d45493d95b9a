"""A writer process for the concurrency tests: posts COUNT messages into a room through the service.

python -m tests.chat.writer <room> <writer-id> <count> [<pause-seconds>]  (environment from child_env)
"""

import sys
import time


def main() -> None:
    import django

    django.setup()
    from chat.selectors import room_get
    from chat.services import message_post

    slug, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    room = room_get(slug=slug)
    for i in range(count):
        message_post(room=room, author=None, text=f"w{writer}-{i}")
        if pause:
            time.sleep(pause)
    print(f"writer {writer} done", flush=True)


if __name__ == "__main__":
    main()
