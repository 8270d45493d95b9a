"""HTTP API and pages: enqueue, run page and JSON, actions, and every bad input."""

import json

import pytest
from django.test import Client

from jobs.history import history_sync
from jobs.models import JobRun, RunStatus
from tests.jobs.conftest import enqueued, stored


def no_runs() -> bool:
    history_sync()
    return not JobRun.objects.exists()


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def csrf_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/jobs/")
    return client


def post_json(client, url, body, csrf=True):
    headers = {"X-CSRFToken": client.cookies["csrftoken"].value} if csrf else {}
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def test_enqueue_json_returns_201_with_id_and_url(csrf_client, clean_queues):
    response = post_json(csrf_client, "/jobs/countdown/enqueue", {"params": {"steps": 2}, "delay": 5})
    assert response.status_code == 201
    data = response.json()
    run = stored(data["id"])
    assert data["url"] == f"/jobs/runs/{run.job_id}/" == response["Location"]
    assert run.status == RunStatus.SCHEDULED and run.arguments == {"steps": 2, "delay": 0.5}
    assert run.owner.username == "alice"


def test_enqueue_needs_the_csrf_token(csrf_client, clean_queues):
    response = post_json(csrf_client, "/jobs/countdown/enqueue", {}, csrf=False)
    assert response.status_code == 403
    assert no_runs()


def test_enqueue_form_post_redirects_to_the_run_page(csrf_client, clean_queues):
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post("/jobs/fail/enqueue", {"csrfmiddlewaretoken": token, "fail-message": "x"})
    assert response.status_code == 302
    history_sync()
    run = JobRun.objects.get()
    assert response["Location"] == f"/jobs/runs/{run.job_id}/"
    assert run.arguments == {"message": "x"}


def test_enqueue_needs_sign_in(client, clean_queues):
    response = client.post("/jobs/countdown/enqueue", "{}", content_type="application/json")
    assert response.status_code == 401 and "Sign in" in response.json()["message"]
    assert client.post("/jobs/countdown/enqueue", {}).status_code == 302


def test_unknown_job_is_404(csrf_client):
    response = post_json(csrf_client, "/jobs/nope/enqueue", {})
    assert response.status_code == 404 and "nope" in response.json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"params": {"steps": 0}}, "steps"),
        ({"params": {"steps": "many"}}, "steps"),
        ({"params": {"bogus": 1}}, "bogus"),
        ({"params": [1, 2]}, "params"),
        ({"delay": "soon"}, "delay"),
        ({"delay": -1}, "delay"),
    ],
)
def test_invalid_parameters_are_400_with_field_errors(csrf_client, body, field):
    response = post_json(csrf_client, "/jobs/countdown/enqueue", body)
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert no_runs()


@pytest.mark.parametrize("body", [{"params": {"steps": 2}, "dealy": 5}, {"steps": 2}, {"params": {}, "steps": 2}])
def test_unknown_top_level_keys_are_400_naming_the_allowed_keys(csrf_client, body):
    response = post_json(csrf_client, "/jobs/countdown/enqueue", body)
    assert response.status_code == 400
    error = response.json()["message"]
    assert "Unknown top-level key" in error and '"params"' in error and '"delay"' in error
    assert set(response.json()["fields"]) == set(body) - {"params"}
    assert no_runs()


def test_invalid_json_body_is_400(csrf_client):
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post(
        "/jobs/countdown/enqueue", "{nope", content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 400 and "JSON" in response.json()["message"]


def test_invalid_form_post_rerenders_the_catalog_with_errors(csrf_client):
    token = csrf_client.cookies["csrftoken"].value
    response = csrf_client.post("/jobs/countdown/enqueue", {"csrfmiddlewaretoken": token, "countdown-steps": "0"})
    assert response.status_code == 400
    assert b"greater than or equal to 1" in response.content


def test_staff_only_job_is_403_for_others(csrf_client):
    response = post_json(csrf_client, "/jobs/runs_prune/enqueue", {})
    assert response.status_code == 403


def test_redis_down_is_503_with_a_clear_message(csrf_client, dead_redis_queues):
    response = post_json(csrf_client, "/jobs/countdown/enqueue", {})
    assert response.status_code == 503
    assert "Redis" in response.json()["message"]
    assert no_runs()
    html = csrf_client.post("/jobs/countdown/enqueue", {"csrfmiddlewaretoken": csrf_client.cookies["csrftoken"].value})
    assert html.status_code == 503 and b"do not answer" in html.content


def test_run_page_and_json_for_owner_403_for_others_404_unknown(client, user, other_user, staff_user, clean_queues):
    run = enqueued(name="fail", params={"message": "<script>alert(1)</script>"}, owner=user)
    JobRun.objects.filter(pk=run.pk).update(error="<script>alert(1)</script>")
    client.force_login(user)
    page = client.get(f"/jobs/runs/{run.job_id}/")
    assert page.status_code == 200
    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content
    data = client.get(f"/jobs/runs/{run.job_id}.json").json()
    assert data["id"] == run.job_id and data["status"] == "queued" and data["actions"] == ["cancel"]
    assert data["rq_status"] == "queued"
    assert data["board"] == f"job-{run.job_id}"
    assert data["board_url"] == f"/boards/job-{run.job_id}/"  # the progress board's page
    client.force_login(other_user)
    assert client.get(f"/jobs/runs/{run.job_id}/").status_code == 403
    assert client.get(f"/jobs/runs/{run.job_id}.json").status_code == 403
    assert client.post(f"/jobs/runs/{run.job_id}/cancel").status_code == 403
    client.force_login(staff_user)
    assert client.get(f"/jobs/runs/{run.job_id}.json").status_code == 200
    assert client.get("/jobs/runs/doesnotexist.json").status_code == 404
    client.logout()
    assert client.get(f"/jobs/runs/{run.job_id}.json").status_code == 401


def test_unknown_run_is_a_json_404_for_json_clients_and_the_error_page_for_browsers(csrf_client, clean_queues):
    for accept in ("application/json", "*/*", "text/html"):  # the .json answers JSON whatever is asked
        response = csrf_client.get("/jobs/runs/doesnotexist.json", headers={"Accept": accept})
        assert response.status_code == 404 and "doesnotexist" in response.json()["message"]
    for action in ("cancel", "stop", "requeue"):
        response = post_json(csrf_client, f"/jobs/runs/doesnotexist/{action}", {})
        assert response.status_code == 404 and "doesnotexist" in response.json()["message"]
    token = csrf_client.cookies["csrftoken"].value
    accepts_json = csrf_client.post(
        "/jobs/runs/doesnotexist/cancel", {"csrfmiddlewaretoken": token}, headers={"Accept": "application/json"}
    )
    assert accepts_json.status_code == 404 and "doesnotexist" in accepts_json.json()["message"]
    for page in (
        csrf_client.get("/jobs/runs/doesnotexist/"),
        csrf_client.post("/jobs/runs/doesnotexist/cancel", {"csrfmiddlewaretoken": token}),
    ):
        assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
        assert b"No run &#x27;doesnotexist&#x27;" in page.content


def test_run_json_errors_are_json_whatever_the_accept_header(client, user, other_user, clean_queues):
    run = enqueued(name="countdown", params={}, owner=user)
    client.force_login(other_user)
    forbidden = client.get(f"/jobs/runs/{run.job_id}.json", headers={"Accept": "*/*"})
    assert forbidden.status_code == 403 and "another user" in forbidden.json()["message"]
    client.logout()
    signed_out = client.get(f"/jobs/runs/{run.job_id}.json", headers={"Accept": "text/html"})
    assert signed_out.status_code == 401 and "Sign in" in signed_out.json()["message"]


def test_cancel_over_http_then_conflict_when_repeated(csrf_client, user, clean_queues):
    run = enqueued(name="countdown", params={}, owner=user)
    response = post_json(csrf_client, f"/jobs/runs/{run.job_id}/cancel", {})
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    again = post_json(csrf_client, f"/jobs/runs/{run.job_id}/cancel", {})
    assert again.status_code == 409 and "queued or scheduled" in again.json()["message"]
    stop = post_json(csrf_client, f"/jobs/runs/{run.job_id}/stop", {})
    assert stop.status_code == 409
    requeue = post_json(csrf_client, f"/jobs/runs/{run.job_id}/requeue", {})
    assert requeue.status_code == 200 and requeue.json()["status"] == "queued"


def test_actions_need_csrf(csrf_client, user, clean_queues):
    run = enqueued(name="countdown", params={}, owner=user)
    assert post_json(csrf_client, f"/jobs/runs/{run.job_id}/cancel", {}, csrf=False).status_code == 403


def test_run_json_survives_redis_down(client, user, clean_queues, dead_redis_queues):
    run = JobRun.objects.create(job_id="abc123", name="countdown", queue="default", owner=user)
    client.force_login(user)
    data = client.get(f"/jobs/runs/{run.job_id}.json").json()
    assert data["queues_available"] is False
    page = client.get(f"/jobs/runs/{run.job_id}/")
    assert page.status_code == 200 and b"do not answer" in page.content


def test_index_lists_catalog_and_own_runs_filtered_by_status(client, user, other_user, clean_queues):
    mine = enqueued(name="countdown", params={}, owner=user)
    theirs = enqueued(name="countdown", params={}, owner=other_user)
    JobRun.objects.filter(pk=mine.pk).update(status=RunStatus.FAILED)
    client.force_login(user)
    html = client.get("/jobs/").content.decode()
    for name in ("countdown", "fail", "slow", "flaky", "noop"):
        assert f'id="job-{name}"' in html
    assert mine.job_id in html and theirs.job_id not in html
    assert "badge-failed" in html
    assert mine.job_id not in client.get("/jobs/?status=queued").content.decode()
    assert client.get("/jobs/?status=bogus").status_code == 400
    assert "/admin/rq/" in html


def test_the_catalog_offers_no_ledger_job_jobs_knows_no_sibling(client, staff_user):
    client.force_login(staff_user)
    html = client.get("/jobs/").content.decode()
    assert 'id="job-runs_prune"' in html
    assert "ledger_resolve" not in html


def test_enqueue_is_rate_limited_per_user_with_429(csrf_client, settings, clean_queues):
    settings.JOBS_ENQUEUE_RATE = 2
    settings.JOBS_ENQUEUE_RATE_WINDOW = 60
    codes = [post_json(csrf_client, "/jobs/noop/enqueue", {}).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    response = post_json(csrf_client, "/jobs/noop/enqueue", {})
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert response.json()["error"] == "rate_limited" and "Too many job enqueues" in response.json()["message"]


def test_a_rate_limited_form_post_gets_the_error_page_with_429_and_retry_after(csrf_client, settings, clean_queues):
    settings.JOBS_ENQUEUE_RATE = 1
    settings.JOBS_ENQUEUE_RATE_WINDOW = 60
    token = csrf_client.cookies["csrftoken"].value
    assert csrf_client.post("/jobs/noop/enqueue", {"csrfmiddlewaretoken": token}).status_code == 302
    page = csrf_client.post("/jobs/noop/enqueue", {"csrfmiddlewaretoken": token}, headers={"Accept": "text/html"})
    assert page.status_code == 429 and 1 <= int(page["Retry-After"]) <= 60
    assert page["Content-Type"].startswith("text/html")
    assert b"Too many job enqueues" in page.content
    history_sync()
    assert JobRun.objects.count() == 1
