"""The admin shows the run history (read-only) and links the rq dashboard."""

import pytest

from jobs.models import JobRun, RunStatus


@pytest.mark.django_db
def test_admin_lists_and_shows_runs(client, admin_user_):
    run = JobRun.objects.create(
        job_id="adm1", name="fail", queue="default", status=RunStatus.FAILED, error="RuntimeError: <x>"
    )
    client.force_login(admin_user_)
    listing = client.get("/admin/jobs/jobrun/?status__exact=failed")
    assert listing.status_code == 200 and b"adm1" in listing.content
    change = client.get(f"/admin/jobs/jobrun/{run.pk}/change/")
    assert change.status_code == 200
    assert b"RuntimeError: &lt;x&gt;" in change.content
    assert b"/admin/rq/" in change.content
    assert client.get("/admin/jobs/jobrun/add/").status_code == 403
    assert client.get("/admin/rq/").status_code == 200
