"""Context providers for jobs pages: plain functions (request, *, ..., **_) -> dict; they only read."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from jobs.conf import setting
from jobs.models import RunStatus
from jobs.selectors import catalog_for, run_actions, run_as_dict, run_attempts, run_live, runs_recent
from switchboard.providers import Provider, providers_from_setting


def job_catalog(request: HttpRequest, *, bound_forms: dict | None = None, **_: Any) -> dict[str, Any]:
    """Each catalog entry with its parameter form (bound with errors after a bad submission)."""
    entries = []
    for spec, allowed in catalog_for(user=request.user):
        form = (bound_forms or {}).get(spec.name) or spec.form(prefix=spec.name)
        entries.append({"spec": spec, "form": form, "allowed": allowed})
    return {"catalog": entries}


def recent_runs(request: HttpRequest, *, status_filter: str = "", **_: Any) -> dict[str, Any]:
    """The viewer's recent runs (staff: everyone's), filtered by status."""
    return {
        "runs": runs_recent(user=request.user, status=status_filter or None),
        "status_filter": status_filter,
        "statuses": RunStatus.values,
    }


def run_detail(request: HttpRequest, *, run, **_: Any) -> dict[str, Any]:
    """One run, what rq knows of it now, and the actions the viewer may take."""
    live = run_live(run=run)
    return {
        "run": run,
        "live": live,
        "run_data": run_as_dict(run=run, live=live, user=request.user),
        "actions": run_actions(run=run, user=request.user),
        "attempts": run_attempts(run=run),
    }


def error_message(request: HttpRequest, *, message: str = "", **_: Any) -> dict[str, Any]:
    """The message of an error page."""
    return {"error_message": message}


def index_providers() -> list[Provider]:
    """The jobs index's providers (JOBS_INDEX_PROVIDERS)."""
    return providers_from_setting("JOBS_INDEX_PROVIDERS", setting("JOBS_INDEX_PROVIDERS"))


def run_providers() -> list[Provider]:
    """A run page's providers (JOBS_RUN_PROVIDERS)."""
    return providers_from_setting("JOBS_RUN_PROVIDERS", setting("JOBS_RUN_PROVIDERS"))
