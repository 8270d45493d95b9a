"""The jobs JSON API (a django-ninja Router a host mounts, see switchboard.api): catalog, enqueue, runs.

A user sees and acts on their own runs, staff on all; the catalog shows each job's parameters as a JSON schema
(built from the job's form, which still validates them).
"""

from __future__ import annotations

from typing import Any

import redis
from django import forms
from django.core import validators
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from ninja import Field, Query, Router, Schema

from jobs import errors as jobs_errors
from jobs import services
from jobs.catalog import JobSpec, UnknownJob, catalog_specs, spec_get
from jobs.history import history_sync
from jobs.models import JobRun, RunStatus
from jobs.selectors import run_as_dict, run_get, run_live, run_visible_to
from switchboard.api import AUTH, OPTIONAL, BodyIn, cursor_page, errors, page_schema
from switchboard.http import BadRequest, error_response
from switchboard.limits import client_ident, too_many_requests

router = Router(tags=["jobs"], auth=AUTH)


class JobOut(Schema):
    name: str
    description: str
    queue: str
    staff_only: bool
    allowed: bool = Field(description="Whether you may enqueue it.")
    parameters: dict[str, Any] = Field(description="A JSON schema of the job's params object.")


class EnqueueIn(BodyIn):
    params: dict[str, Any] = Field(default_factory=dict, description="The job's parameters (see its schema).")
    delay: float | None = Field(None, description="Seconds before it is queued (a scheduled run).")


class EnqueueOut(Schema):
    id: str
    url: str = Field(description="The run's page.")
    json_url: str = Field(description="The run as JSON (the page's poll).")
    status: str


class RunOut(Schema):
    id: str
    name: str
    arguments: dict[str, Any]
    queue: str
    status: str
    owner: str | None
    enqueued_at: str | None
    scheduled_for: str | None
    started_at: str | None
    ended_at: str | None
    attempts: int
    result: str
    error: str
    terminal: bool
    url: str
    json_url: str
    actions: list[str]
    progress: dict[str, Any] | None = None


class RunsQuery(Schema):
    status: RunStatus | None = Field(None, description="Only runs with this status.")
    job: str | None = Field(None, description="Only runs of this job (catalog name).")
    cursor: str | None = None
    limit: int | None = None


def _field_schema(field: forms.Field) -> dict[str, Any]:
    """The JSON schema of one form field (the common field types; anything else is a string)."""
    schema: dict[str, Any]
    if isinstance(field, forms.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(field, forms.TypedChoiceField | forms.ChoiceField):
        schema = {"enum": [value for value, _ in field.choices if value != ""]}
    elif isinstance(field, forms.IntegerField | forms.FloatField | forms.DecimalField):
        schema = {"type": "integer" if type(field) is forms.IntegerField else "number"}
        for validator in field.validators:
            limit = getattr(validator, "limit_value", None)
            if isinstance(validator, validators.MinValueValidator):
                schema["minimum"] = limit
            elif isinstance(validator, validators.MaxValueValidator):
                schema["maximum"] = limit
    else:
        schema = {"type": "string"}
        if getattr(field, "max_length", None):
            schema["maxLength"] = field.max_length
    if field.help_text:
        schema["description"] = str(field.help_text)
    if field.initial is not None:
        schema["default"] = field.initial
    return schema


def params_schema(spec: JobSpec) -> dict[str, Any]:
    """The JSON schema of ``spec``'s params, from its form's fields."""
    fields = spec.form.base_fields
    required = [name for name, field in fields.items() if field.required and field.initial is None]
    schema = {"type": "object", "properties": {name: _field_schema(f) for name, f in fields.items()}}
    return schema | ({"required": required} if required else {})


def _job_json(spec: JobSpec, user: Any) -> dict[str, Any]:
    return {
        "name": spec.name,
        "description": spec.description,
        "queue": spec.queue,
        "staff_only": spec.staff_only,
        "allowed": spec.allowed(user),
        "parameters": params_schema(spec),
    }


def _run(request: HttpRequest, job_id: str) -> JobRun:
    history_sync()  # the run's row may still be an event waiting in Redis
    run = run_get(job_id=job_id)
    if run is None or not run_visible_to(run=run, user=request.user):
        raise BadRequest(
            f"No run {job_id!r} of yours: see GET runs (old runs are pruned).", code="not_found", status=404
        )
    return run


@router.get("/catalog", auth=OPTIONAL, response=errors(401, _200=page_schema(JobOut)), operation_id="jobs_catalog")
def catalog(request: HttpRequest):
    """Every job you could enqueue, with its parameters' JSON schema (one page: the catalog is short)."""
    return {"items": [_job_json(spec, request.user) for spec in catalog_specs()], "next_cursor": None}


@router.post(
    "/catalog/{name}/enqueue",
    response=errors(400, 401, 403, 404, 413, 422, 429, 503, _201=EnqueueOut),
    operation_id="jobs_enqueue",
    openapi_extra={
        "responses": {
            201: {
                "links": {
                    "run": {
                        "operationId": "jobs_run_get",
                        "parameters": {"job_id": "$response.body#/id"},
                    }
                }
            }
        }
    },
)
def enqueue(request: HttpRequest, name: str, body: EnqueueIn):
    """Enqueue a run of the job (201 with its id); JOBS_ENQUEUE_RATE per JOBS_ENQUEUE_RATE_WINDOW seconds."""
    try:
        spec = spec_get(name=name)
    except UnknownJob as exc:
        raise BadRequest(str(exc), code="unknown_job", status=404) from None
    try:
        limited = services.rate_hit(kind="enqueue", ident=client_ident(request))
    except redis.RedisError as exc:
        return error_response(jobs_errors.redis_unavailable(exc))
    if not limited.allowed:
        return too_many_requests(limited, what="job enqueues")
    try:
        with services.active_slot(user=request.user):
            run = services.job_enqueue(name=spec.name, params=body.params, owner=request.user, delay=body.delay)
    except jobs_errors.InvalidParameters as exc:
        return error_response(exc, fields=exc.errors)
    except jobs_errors.JobsError as exc:
        return error_response(exc)
    url = reverse("jobs:run", args=[run.job_id])
    data = {"id": run.job_id, "url": url, "json_url": reverse("jobs:run_json", args=[run.job_id]), "status": run.status}
    return JsonResponse(data, status=201, headers={"Location": url})


@router.get("/runs", response=errors(400, 401, _200=page_schema(RunOut)), operation_id="jobs_runs_list")
def runs_list(request: HttpRequest, query: Query[RunsQuery]):
    """Your runs (everyone's for staff), newest first, optionally of one status and one job."""
    history_sync()
    runs = JobRun.objects.select_related("owner")
    if not request.user.is_staff:
        runs = runs.filter(owner=request.user)
    if query.status:
        runs = runs.filter(status=query.status)
    if query.job:
        runs = runs.filter(name=query.job)
    user = request.user
    return cursor_page(
        runs, key="-pk", cursor=query.cursor, limit=query.limit, render=lambda run: run_as_dict(run=run, user=user)
    )


@router.get("/runs/{job_id}", response=errors(401, 404, _200=RunOut), operation_id="jobs_run_get")
def run_detail(request: HttpRequest, job_id: str):
    """One of your runs, with its live progress."""
    run = _run(request, job_id)
    return run_as_dict(run=run, live=run_live(run=run), user=request.user)
