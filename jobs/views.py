"""Jobs views: parse input, call a service or selector, render (HTML or JSON)."""

from __future__ import annotations

from typing import Any

import redis
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from jobs import errors, services
from jobs.catalog import UnknownJob, spec_get
from jobs.context import error_message, index_providers, run_providers
from jobs.history import history_sync
from jobs.models import JobRun, RunStatus
from jobs.selectors import run_as_dict, run_get, run_live, run_visible_to
from switchboard.http import BadRequest, code_for, error_response, json_body, json_error, json_view, login_required
from switchboard.limits import RateResult, client_ident, rate_limit_message, too_many_requests
from switchboard.providers import render_page

ERROR_PAGE = [error_message]


def wants_json(request: HttpRequest) -> bool:
    return request.content_type == "application/json" or "application/json" in request.headers.get("Accept", "")


def error_page(request: HttpRequest, status: int, message: str) -> HttpResponse:
    return render_page(request, "jobs/error.html", ERROR_PAGE, status=status, message=message)


def fail(
    request: HttpRequest, status: int, message: str, *, code: str = "", as_json: bool = False, **extra: Any
) -> HttpResponse:
    """The error as JSON for JSON requests (or always, with ``as_json``), else the jobs error page."""
    if as_json or wants_json(request):
        return json_error(code or code_for(status), message, status=status, **extra)
    return error_page(request, status, message)


def failed(request: HttpRequest, exc: errors.JobsError, *, as_json: bool = False) -> HttpResponse:
    """A JobsError answered as JSON (its code and status) or the error page."""
    return fail(request, exc.status, str(exc), code=exc.code, as_json=as_json)


def not_signed_in(request: HttpRequest, *, as_json: bool = False) -> HttpResponse:
    if as_json or wants_json(request):
        return login_required("Sign in first: this action needs a signed-in user.")
    return redirect_to_login(request.get_full_path())


def rate_limited(request: HttpRequest, limited: RateResult, *, what: str = "job enqueues") -> HttpResponse:
    """429 with Retry-After: the shared limits' JSON for JSON requests, the error page for a form post."""
    if wants_json(request):
        return too_many_requests(limited, what=what)
    page = error_page(request, 429, rate_limit_message(limited, what=what))
    page["Retry-After"] = str(limited.retry_after)
    return page


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The catalog with forms, and recent runs filterable by ?status=."""
    status = request.GET.get("status", "")
    if status and status not in RunStatus.values:
        return error_page(request, 400, f"Unknown status {status!r}: use one of {', '.join(RunStatus.values)}.")
    history_sync()
    return render_page(request, "jobs/index.html", index_providers(), status_filter=status)


ENQUEUE_KEYS = {"params", "delay"}


def parse_enqueue(request: HttpRequest, name: str) -> tuple[dict[str, Any], float | None]:
    """The job parameters and delay from a JSON body or a form post (fields prefixed with the job name)."""
    if request.content_type == "application/json":
        try:
            body = json_body(request, empty={})
        except BadRequest as exc:
            raise errors.InvalidParameters(str(exc), {"__all__": [str(exc)]}) from None
        if not isinstance(body, dict):
            raise errors.InvalidParameters("The body must be a JSON object.", {"__all__": ["Expected an object."]})
        unknown = sorted(set(body) - ENQUEUE_KEYS)
        if unknown:
            raise errors.InvalidParameters(
                f'Unknown top-level key(s) {", ".join(map(repr, unknown))}: the body takes only "params" (the '
                'job\'s parameters, an object) and "delay" (seconds before it is queued), as in '
                '{"params": {"steps": 5, "delay": 0.2}, "delay": 30}. Put job parameters under "params".',
                {key: ["Unknown key; job parameters go under params."] for key in unknown},
            )
        params = body.get("params", {})
        if not isinstance(params, dict):
            raise errors.InvalidParameters("params must be an object.", {"params": ["Expected an object."]})
        raw_delay = body.get("delay")
    else:
        prefix = f"{name}-"
        params = {k[len(prefix) :]: v for k, v in request.POST.items() if k.startswith(prefix)}
        raw_delay = request.POST.get("delay") or None
    if raw_delay is None or raw_delay == "":
        return params, None
    try:
        delay = float(raw_delay)
    except (TypeError, ValueError):
        raise errors.InvalidParameters("delay must be a number of seconds.", {"delay": ["Enter a number."]}) from None
    if delay != delay or delay in (float("inf"), float("-inf")):
        raise errors.InvalidParameters("delay must be a finite number.", {"delay": ["Enter a number."]})
    return params, delay


@json_view(methods=["POST"], when=wants_json)
def enqueue(request: HttpRequest, name: str) -> HttpResponse:
    """POST /jobs/<name>/enqueue: 201 {id, url} (JSON) or a redirect to the run page (form)."""
    try:
        spec = spec_get(name=name)
    except UnknownJob as exc:
        return fail(request, 404, str(exc), code="unknown_job")
    if not request.user.is_authenticated:
        return not_signed_in(request)
    try:
        limited = services.rate_hit(kind="enqueue", ident=client_ident(request))
    except redis.RedisError as exc:
        return failed(request, errors.redis_unavailable(exc))
    if not limited.allowed:
        return rate_limited(request, limited)
    try:
        params, delay = parse_enqueue(request, name)
        with services.active_slot(user=request.user):
            run = services.job_enqueue(name=spec.name, params=params, owner=request.user, delay=delay)
    except errors.InvalidParameters as exc:
        if wants_json(request):
            return error_response(exc, fields=exc.errors)
        form = spec.form(data=request.POST, prefix=spec.name)
        form.is_valid()
        for field, messages in exc.errors.items():
            if field not in form.errors:
                form.add_error(None if field not in form.fields else field, messages)
        return render_page(request, "jobs/index.html", index_providers(), status=400, bound_forms={spec.name: form})
    except errors.JobsError as exc:
        return failed(request, exc)
    url = reverse("jobs:run", args=[run.job_id])
    if wants_json(request):
        data = {"id": run.job_id, "url": url, "json_url": reverse("jobs:run_json", args=[run.job_id])}
        return JsonResponse({**data, "status": run.status}, status=201, headers={"Location": url})
    return redirect(url)


def visible_run(request: HttpRequest, job_id: str, *, as_json: bool = False) -> JobRun | HttpResponse:
    """The run when the user may see it, else the error answer (404, 401 or 403)."""
    history_sync()  # the run's row may still be an event waiting in Redis
    run = run_get(job_id=job_id)
    if run is None:
        message = f"No run {job_id!r}: check the id, or find your runs on the jobs page (old runs are pruned)."
        return fail(request, 404, message, as_json=as_json)
    if not request.user.is_authenticated:
        return not_signed_in(request, as_json=as_json)
    if not run_visible_to(run=run, user=request.user):
        return fail(request, 403, "This run belongs to another user.", as_json=as_json)
    return run


@require_GET
def run_page(request: HttpRequest, job_id: str) -> HttpResponse:
    """The run's page: live progress, status, result or traceback, attempts, actions."""
    run = visible_run(request, job_id)
    if isinstance(run, HttpResponse):
        return run
    return render_page(request, "jobs/run.html", run_providers(), run=run)


@json_view(methods=["GET", "HEAD"])
def run_json(request: HttpRequest, job_id: str) -> HttpResponse:
    """The run as JSON (what the page's progress bar polls); its errors are JSON whatever the Accept header."""
    run = visible_run(request, job_id, as_json=True)
    if isinstance(run, HttpResponse):
        return run
    return JsonResponse(run_as_dict(run=run, live=run_live(run=run), user=request.user))


ACTIONS = {"cancel": services.run_cancel, "stop": services.run_stop, "requeue": services.run_requeue}


@json_view(methods=["POST"], when=wants_json)
def run_action(request: HttpRequest, job_id: str, action: str) -> HttpResponse:
    """POST /jobs/runs/<id>/cancel|stop|requeue (owner or staff)."""
    run = visible_run(request, job_id)
    if isinstance(run, HttpResponse):
        return run
    try:
        limited = services.rate_hit(kind="action", ident=client_ident(request))
    except redis.RedisError as exc:
        return failed(request, errors.redis_unavailable(exc))
    if not limited.allowed:
        return rate_limited(request, limited, what="run actions (cancel, stop, requeue)")
    try:
        if action == "requeue":
            with services.active_slot(user=request.user):
                run = services.run_requeue(run=run, user=request.user)
        else:
            run = ACTIONS[action](run=run, user=request.user)
    except errors.JobsError as exc:
        return failed(request, exc)
    if wants_json(request):
        return JsonResponse(run_as_dict(run=run, user=request.user), status=202 if action == "stop" else 200)
    return redirect(reverse("jobs:run", args=[run.job_id]))
