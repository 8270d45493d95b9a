"""A writer process for the concurrency tests: posts COUNT messages into a room through the service.

python -m tests.chat.writer <room> <writer-id> <count>  (environment from the child_env fixture)
"""

import sys


def main() -> None:
    import django

    django.setup()
    from chat.selectors import room_get
    from chat.services import message_post

    slug, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    room = room_get(slug=slug)
    for i in range(count):
        message_post(room=room, author=None, text=f"w{writer}-{i}")
    print(f"writer {writer} done", flush=True)


if __name__ == "__main__":
    main()
