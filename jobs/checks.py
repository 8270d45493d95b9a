"""System checks: the catalog imports, every queue it names is configured in RQ_QUEUES, django-rq is there."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, reverse

from jobs.catalog import catalog_specs
from jobs.conf import setting


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """jobs.E001: JOBS_CATALOG does not load; jobs.E002: a queue is missing from RQ_QUEUES;
    jobs.E003: a worker pool setting is not a number in its range; jobs.E004: django_rq is not installed;
    jobs.W001: progress boards are private but BOARDS_READ_PERMISSION does not let run owners read them;
    jobs.W002: django_rq's URLs are not included."""
    errors: list[checks.CheckMessage] = []
    if not apps.is_installed("django_rq"):
        errors.append(
            checks.Error(
                "The jobs app runs on django-rq, which is not in INSTALLED_APPS (its rqworker, rqcron and "
                "dashboard are missing).",
                hint='Add "django_rq" to INSTALLED_APPS, before "jobs".',
                id="jobs.E004",
            )
        )
    else:
        try:
            reverse("django_rq:home")
        except NoReverseMatch:
            errors.append(
                checks.Warning(
                    "django_rq's URLs are not included: operators get no rq dashboard, and the jobs page links none.",
                    hint='Add path("admin/rq/", include("django_rq.urls")) to your urlpatterns.',
                    id="jobs.W002",
                )
            )
    try:
        specs = catalog_specs()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), hint="Fix the dotted paths in JOBS_CATALOG.", id="jobs.E001")]
    queues = getattr(settings, "RQ_QUEUES", {})
    if not queues:
        hint = 'Set RQ_QUEUES = {name: {"URL": REDIS_URL} for name in ("high", "default", "low")} in your settings.'
        errors.append(checks.Error("RQ_QUEUES is not set: jobs has no queue.", hint=hint, id="jobs.E002"))
        return errors
    names = {spec.queue for spec in specs} | set(setting("JOBS_QUEUES")) | set(setting("JOBS_WORKER_QUEUES"))
    for name in sorted(names - set(queues)):
        errors.append(
            checks.Error(
                f"Queue {name!r} is used by the jobs app but not configured in RQ_QUEUES.",
                hint=f"Add {name!r} to RQ_QUEUES, or change JOBS_* settings and the catalog.",
                id="jobs.E002",
            )
        )
    if apps.is_installed("boards") and getattr(settings, "BOARDS_READ_PERMISSION", None) is None:
        errors.append(
            checks.Warning(
                "Job progress boards are private, and BOARDS_READ_PERMISSION is not set: only staff can read them.",
                hint='Set BOARDS_READ_PERMISSION = "jobs.interface.board_readable" so run owners see their progress.',
                id="jobs.W001",
            )
        )
    return errors + _pool_errors()


POOL_MINIMUMS = {"JOBS_WORKER_PROCESSES": 1, "JOBS_WORKER_MAX_JOBS": 0, "JOBS_WORKER_MAX_MEMORY_MB": 0,
                 "JOBS_WORKER_KILL_GRACE": 0}  # fmt: skip


def _pool_errors() -> list[checks.CheckMessage]:
    errors = []
    for name, minimum in POOL_MINIMUMS.items():
        value = setting(name)
        if name == "JOBS_WORKER_PROCESSES" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            errors.append(
                checks.Error(
                    f"{name} is {value!r}; it must be a whole number, {minimum} or more.",
                    hint=f"Fix {name} in your settings (None for JOBS_WORKER_PROCESSES means one per core)."
                    if name == "JOBS_WORKER_PROCESSES"
                    else f"Fix {name} in your settings (0 turns the limit off).",
                    id="jobs.E003",
                )
            )
    return errors
