"""chat_post: posts through the service (a real child process), refuses bad input with CommandError."""

import pytest
from django.core.management import CommandError, call_command

from chat.models import Message
from tests.conftest import run_manage


@pytest.mark.django_db(transaction=True)
def test_chat_post_in_a_child_process_stores_and_numbers_the_message(child_env, room, user):
    result = run_manage(child_env, "chat_post", room.slug, "hello from the shell", "--as", "alice")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Posted #1 to {room.slug}."
    message = Message.objects.get(room=room)
    assert (message.seq, message.text, message.author) == (1, "hello from the shell", user)


@pytest.mark.django_db
def test_chat_post_without_as_posts_a_system_message(room, capsys):
    call_command("chat_post", room.slug, "maintenance at noon")
    assert Message.objects.get(room=room).author is None
    assert "Posted #1" in capsys.readouterr().out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["no-such-room", "x"], "does not exist"),
        (["{room}", "   "], "empty"),
        (["{room}", "x" * 4001], "limit is 4000"),
        (["{room}", "x", "--as", "nobody"], "User 'nobody' does not exist"),
    ],
)
def test_chat_post_bad_input_is_a_command_error(room, args, fragment):
    args = [a.format(room=room.slug) for a in args]
    with pytest.raises(CommandError, match=fragment):
        call_command("chat_post", *args)
    assert not Message.objects.exists()
