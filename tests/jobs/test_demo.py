"""demo_load enqueues one countdown, once."""

import pytest

from config.demo.jobs import demo_load
from jobs.history import history_sync
from jobs.models import JobRun

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_load_is_idempotent(admin_user_, clean_queues):
    first = demo_load(admin=admin_user_)
    assert "enqueued" in first and "countdown" in first
    history_sync()
    assert "already there" in demo_load(admin=admin_user_)
    assert JobRun.objects.filter(name="countdown").count() == 1
