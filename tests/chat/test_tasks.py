"""An rq job posting in a worker process reaches a live reader in another process."""

import pytest
from django_rq import get_queue

from chat.models import Message
from tests.chat.conftest import SSEReader, wait_for_waiters
from tests.conftest import run_manage


@pytest.mark.django_db(transaction=True)
def test_a_job_run_by_an_rq_worker_reaches_a_live_sse_reader(live_asgi, child_env, room, user):
    import threading

    reader = SSEReader(f"{live_asgi}/chat/{room.slug}/stream")
    result: dict = {}

    def read() -> None:
        try:
            reader.read(until_seq=1, timeout=30)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    wait_for_waiters(1)  # the reader is live: what follows reaches it through Redis, not history
    queue = get_queue("low")
    job = queue.enqueue("chat.tasks.message_post_task", room=room.slug, text="from a worker", username="alice")
    worker = run_manage(child_env, "rqworker", "low", "--burst")
    assert worker.returncode == 0, worker.stderr
    thread.join(timeout=30)
    assert "error" not in result, result.get("error")
    job.refresh()
    assert job.return_value() == 1
    assert reader.events[0][1]["text"] == "from a worker" and reader.events[0][1]["author"] == "alice"
    assert Message.objects.get(room=room).author == user
