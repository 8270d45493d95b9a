"""Demo data for jobs: the catalog is code, so this only enqueues one short countdown once."""

from __future__ import annotations

from typing import Any

from jobs.catalog import UnknownJob, catalog_specs, spec_get
from jobs.errors import JobsError
from jobs.models import JobRun
from jobs.services import job_enqueue


def demo_load(*, admin: Any) -> str:
    """Enqueue one demo countdown for ``admin`` unless one exists (idempotent)."""
    names = ", ".join(spec.name for spec in catalog_specs())
    try:
        spec_get(name="countdown")
    except UnknownJob:
        return f"catalog: {names}; no demo countdown (JOBS_DEMO_JOBS is off)"
    if JobRun.objects.filter(name="countdown", owner=admin).exists():
        return f"catalog: {names}; demo countdown already there"
    try:
        run = job_enqueue(name="countdown", params={"steps": 20, "delay": 0.5}, owner=admin)
    except JobsError as exc:
        return f"catalog: {names}; demo countdown not enqueued ({exc})"
    return f"catalog: {names}; demo countdown {run.job_id} enqueued"
