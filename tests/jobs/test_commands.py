"""jobs_enqueue, jobs_status and jobs_worker, run as real manage.py processes."""

import json

import pytest
from django.core.management import CommandError, call_command

from jobs.models import RunStatus
from tests.conftest import run_manage
from tests.jobs.conftest import stored

pytestmark = pytest.mark.django_db(transaction=True)


def test_enqueue_then_worker_then_status(child_env, user, clean_queues):
    done = run_manage(
        child_env, "jobs_enqueue", "countdown", "--param", "steps=2", "--param", "delay=0", "--user", "alice"
    )
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    assert stored(job_id).owner == user
    worked = run_manage(child_env, "jobs_worker", "default", "--burst", "--simple", "-v", "0")
    assert worked.returncode == 0, worked.stderr
    status = run_manage(child_env, "jobs_status", job_id, "--json")
    data = json.loads(status.stdout)
    assert data["status"] == "finished" and data["attempts"] == 1 and data["progress"]["percent"] == 100
    text = run_manage(child_env, "jobs_status", job_id).stdout
    assert f"countdown {job_id}: finished" in text


def test_enqueue_in_a_delay(clean_queues):
    from io import StringIO

    out = StringIO()
    call_command("jobs_enqueue", "noop", "--in", "2m", stdout=out)
    run = stored(out.getvalue().strip())
    assert run.status == RunStatus.SCHEDULED
    assert 119 <= (run.scheduled_for - run.enqueued_at).total_seconds() <= 121


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "No job named 'nope'"),
        (["countdown", "--param", "steps=zero"], "steps: Enter a whole number"),
        (["countdown", "--param", "steps"], "not key=value"),
        (["countdown", "--in", "soon"], "not a duration"),
        (["countdown", "--user", "ghost"], "No user 'ghost'"),
    ],
)
def test_enqueue_bad_input_is_a_command_error(args, message, clean_queues):
    with pytest.raises(CommandError, match=message):
        call_command("jobs_enqueue", *args)


def test_status_of_unknown_run_is_a_command_error():
    with pytest.raises(CommandError, match="No run with id"):
        call_command("jobs_status", "nope")


def test_worker_rejects_unknown_queue_and_redis_down(dead_redis_queues):
    with pytest.raises(CommandError, match="Unknown queue"):
        call_command("jobs_worker", "nowhere", "--burst")
    with pytest.raises(CommandError, match="Redis does not answer"):
        call_command("jobs_worker", "default", "--burst", "--simple")


def test_jobs_worker_refuses_a_bad_pool_size(clean_queues):
    with pytest.raises(CommandError, match="--processes must be 1 or more"):
        call_command("jobs_worker", "default", "--burst", "--processes", "0")
    with pytest.raises(CommandError, match="only for the pool"):
        call_command("jobs_worker", "default", "--burst", "--simple", "--processes", "2")
