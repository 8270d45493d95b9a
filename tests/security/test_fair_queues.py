"""Rows 3 and 4 of issue 13: one user cannot fill the queues or starve the site's periodic jobs; requeue and
cancel are rate-limited like enqueue; a catalog job's parameters cannot make it outlast its spec."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from jobs.apps import JobsConfig
from jobs.catalog import SYSTEM_QUEUE, spec_get
from jobs.conf import setting
from jobs.cron import periodic_register
from jobs.models import JobRun

pytestmark = pytest.mark.django_db


def enqueue(client, name="countdown", params=None):
    return client.post(
        reverse("jobs:enqueue", args=[name]),
        json.dumps({"params": params or {"steps": 1, "delay": 0}, "delay": 3600}),
        content_type="application/json",
    )


def test_a_user_beyond_the_active_run_limit_gets_429_with_the_reason(client, site, settings):
    settings.JOBS_USER_MAX_ACTIVE = 3  # alice already has one scheduled run (the fixture's)
    client.force_login(site.alice)
    assert [enqueue(client).status_code for _ in range(2)] == [201, 201]
    refused = enqueue(client)
    assert refused.status_code == 429
    text = json.dumps(refused.json())  # the jobs app's error shape (#14 unifies them)
    assert "limit is 3" in text and "active" in text
    # Other users are not affected.
    client.force_login(site.bob)
    assert enqueue(client).status_code == 201


def test_a_finished_or_canceled_run_frees_a_place(client, site, settings):
    settings.JOBS_USER_MAX_ACTIVE = 1
    client.force_login(site.alice)
    assert enqueue(client).status_code == 429
    assert (
        client.post(reverse("jobs:cancel", args=[site.run.job_id]), content_type="application/json").status_code == 200
    )
    assert enqueue(client).status_code == 201


def test_a_form_post_beyond_the_limit_gets_the_error_page_with_429(client, site, settings):
    settings.JOBS_USER_MAX_ACTIVE = 1
    client.force_login(site.alice)
    response = client.post(reverse("jobs:enqueue", args=["countdown"]), {"countdown-steps": "1"})
    assert response.status_code == 429
    assert b"active" in response.content


def test_requeue_respects_the_active_limit(client, site, settings):
    settings.JOBS_USER_MAX_ACTIVE = 1
    client.force_login(site.alice)
    url = reverse("jobs:cancel", args=[site.run.job_id])
    assert client.post(url, content_type="application/json").status_code == 200
    assert enqueue(client).status_code == 201
    requeue = client.post(reverse("jobs:requeue", args=[site.run.job_id]), content_type="application/json")
    assert requeue.status_code == 429


def test_requeue_and_cancel_are_rate_limited_like_enqueue(client, site, settings):
    settings.JOBS_ACTION_RATE, settings.JOBS_ACTION_RATE_WINDOW = 3, 60
    client.force_login(site.alice)
    url = reverse("jobs:requeue", args=[site.run.job_id])
    statuses = [client.post(url, content_type="application/json").status_code for _ in range(5)]
    assert statuses[:3] == [409, 409, 409]  # allowed, but a scheduled run does not requeue
    assert statuses[3:] == [429, 429]
    cancel = client.post(reverse("jobs:cancel", args=[site.run.job_id]), content_type="application/json")
    assert cancel.status_code == 429
    assert int(cancel["Retry-After"]) >= 1
    assert JobRun.objects.get(pk=site.run.pk).status == "scheduled"


def test_the_sites_periodic_jobs_run_on_their_own_queue_with_their_own_worker(settings):
    user_queues = {spec_get(name=name).queue for name in ("countdown", "fail", "slow", "flaky", "noop")}
    system = SYSTEM_QUEUE
    assert system not in user_queues
    for entry in setting("JOBS_PERIODIC"):
        assert spec_get(name=entry["job"]).queue == system
    assert system in settings.RQ_QUEUES
    processes = JobsConfig("jobs", __import__("jobs")).background_processes(
        python="python", manage="manage.py", options={"rq_workers": 1}
    )
    assert any(argv[3] == system for name, argv in processes if name.startswith("worker-"))


def test_rqcron_schedules_the_periodic_jobs_on_the_system_queue(monkeypatch):
    from rq import cron

    seen = []
    monkeypatch.setattr(cron, "register", lambda func, **kwargs: seen.append(kwargs["queue_name"]))
    assert periodic_register()
    assert set(seen) == {SYSTEM_QUEUE}


def test_a_countdown_cannot_be_asked_to_outlast_its_timeout(client, site):
    client.force_login(site.alice)
    spec = spec_get(name="countdown")
    refused = enqueue(client, params={"steps": 600, "delay": 10})
    assert refused.status_code == 400
    assert "seconds" in json.dumps(refused.json())
    form = spec.form
    steps, delay = form.base_fields["steps"].max_value, form.base_fields["delay"].max_value
    bound = spec.extra["max_seconds"]
    assert bound < spec.timeout
    assert enqueue(client, params={"steps": 20, "delay": bound / 20}).status_code == 201
    assert enqueue(client, params={"steps": steps, "delay": delay}).status_code == 400


def test_staff_have_their_own_limit_none_by_default(client, site, settings):
    settings.JOBS_USER_MAX_ACTIVE = 1
    client.force_login(site.staff)
    assert [enqueue(client).status_code for _ in range(3)] == [201, 201, 201]
    settings.JOBS_STAFF_MAX_ACTIVE = 4
    assert enqueue(client).status_code == 201
    assert enqueue(client).status_code == 429


def test_a_lock_left_by_a_killed_request_delays_the_next_enqueue_but_does_not_refuse_it(
    client, site, settings, monkeypatch
):
    # A web process SIGKILLed inside active_slot leaves the user's lock in Redis; it expires on its own, and the
    # user's next request waits for that instead of answering 503 (the soak's web-worker kill found it).
    from jobs import services
    from jobs.queues import queue_get

    assert services.ACTIVE_LOCK_WAIT > services.ACTIVE_LOCK_TIMEOUT
    monkeypatch.setattr(services, "ACTIVE_LOCK_TIMEOUT", 1)
    monkeypatch.setattr(services, "ACTIVE_LOCK_WAIT", 3)
    settings.JOBS_USER_MAX_ACTIVE = 3
    connection = queue_get(name=setting("JOBS_QUEUES")[0]).connection
    assert connection.lock(f"jobs:active-lock:{site.alice.pk}", timeout=1).acquire(blocking=False)  # the dead one
    client.force_login(site.alice)
    assert enqueue(client).status_code == 201
