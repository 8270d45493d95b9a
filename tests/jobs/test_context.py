"""Page provider lists: no two providers write the same key."""

import pytest
from django.test import RequestFactory

from jobs.context import index_providers, run_providers
from jobs.models import JobRun
from switchboard.providers import build_context, site_providers


@pytest.mark.django_db
def test_index_page_providers_do_not_collide(user):
    request = RequestFactory().get("/jobs/")
    request.user = user
    request._messages = []
    context = build_context(request, [*site_providers(), *index_providers()], status_filter="")
    assert {"catalog", "runs", "statuses", "nav_items"} <= set(context)


@pytest.mark.django_db
def test_run_page_providers_do_not_collide(user, clean_queues):
    run = JobRun.objects.create(job_id="r1", name="noop", queue="high", owner=user)
    request = RequestFactory().get("/jobs/runs/r1/")
    request.user = user
    request._messages = []
    context = build_context(request, [*site_providers(), *run_providers()], run=run)
    assert context["run_data"]["id"] == "r1" and context["actions"] == ["cancel"]
