"""Django's Tasks API (django.tasks) on rq: enqueue, priority, defer, results, history."""

from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus, default_task_backend
from django.utils import timezone

from jobs.models import RunStatus
from jobs.services import queue_get
from jobs.tasks import add_numbers
from tests.jobs.conftest import stored

pytestmark = pytest.mark.django_db(transaction=True)


def test_task_enqueue_runs_on_an_rq_worker_and_returns_its_result(run_worker):
    result = add_numbers.enqueue(2, 3)
    assert result.status == TaskResultStatus.READY
    assert stored(result.id).status == RunStatus.QUEUED
    run_worker("default")
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5
    assert default_task_backend.get_result(result.id).return_value == 5
    run = stored(result.id)
    assert run.status == RunStatus.FINISHED and run.result == "5" and run.name == "jobs.tasks.add_numbers"


def test_task_priority_picks_the_queue(clean_queues):
    high = add_numbers.using(priority=10).enqueue(1, 1)
    low = add_numbers.using(priority=-10).enqueue(1, 1)
    assert high.id in queue_get(name="high").job_ids
    assert low.id in queue_get(name="low").job_ids
    assert stored(high.id).queue == "high"
    urgent = add_numbers.using(priority=100).enqueue(2, 2)
    assert queue_get(name="high").job_ids[0] == urgent.id


def test_task_run_after_is_deferred_until_due(run_worker):
    result = add_numbers.using(run_after=timezone.now() + timedelta(seconds=30)).enqueue(4, 4)
    assert stored(result.id).status == RunStatus.SCHEDULED
    run_worker("default", scheduler=True)
    result.refresh()
    assert result.status == TaskResultStatus.READY
    assert queue_get(name="default").scheduled_job_registry.get_job_ids() == [result.id]
