"""The job catalog: jobs a user may start, each a JobSpec named in settings.JOBS_CATALOG (dotted paths)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from jobs.conf import setting

# The queue of the site's own periodic jobs: a worker of its own, never behind users' jobs.
SYSTEM_QUEUE = "system"

# The demo jobs a site offers with JOBS_DEMO_JOBS = True (before JOBS_CATALOG's entries).
DEMO_CATALOG = [
    "jobs.builtin.COUNTDOWN",
    "jobs.builtin.FAIL",
    "jobs.builtin.SLOW",
    "jobs.builtin.FLAKY",
    "jobs.builtin.NOOP",
]


class NoParameters(forms.Form):
    """A job without parameters."""


@dataclass(frozen=True)
class JobSpec:
    """A catalog entry: the function (a dotted path, imported by the worker) and how to run it.

    ``requires_app`` and ``requires_import`` hide the entry unless that app is installed and that
    dotted path imports, so a catalog may name a sibling's job without depending on the sibling.
    """

    name: str
    func: str
    description: str
    form: type[forms.Form] = NoParameters
    queue: str = "default"
    timeout: int = 60
    retries: int = 0
    retry_intervals: Sequence[int] = (1,)
    staff_only: bool = False
    requires_app: str = ""
    requires_import: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def available(self) -> bool:
        """True when the app and import this entry needs are there."""
        if self.requires_app and not apps.is_installed(self.requires_app):
            return False
        if self.requires_import:
            try:
                import_string(self.requires_import)
            except ImportError:
                return False
        return True

    def allowed(self, user: Any) -> bool:
        """May ``user`` start this job?"""
        return bool(user and user.is_authenticated and (user.is_staff or not self.staff_only))


class UnknownJob(LookupError):
    """No catalog entry of that name (or it is unavailable here)."""


@functools.cache
def _specs(paths: tuple[str, ...]) -> dict[str, JobSpec]:
    specs: dict[str, JobSpec] = {}
    for path in paths:
        try:
            spec = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"JOBS_CATALOG names {path!r}, which cannot be imported: {exc}") from exc
        if not isinstance(spec, JobSpec):
            raise ImproperlyConfigured(f"JOBS_CATALOG entry {path!r} is not a jobs.catalog.JobSpec.")
        if spec.name in specs:
            raise ImproperlyConfigured(f"JOBS_CATALOG has two jobs named {spec.name!r}: rename one.")
        specs[spec.name] = spec
    return specs


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: Any) -> None:
    if setting in ("JOBS_CATALOG", "JOBS_DEMO_JOBS"):
        _specs.cache_clear()


def catalog_paths() -> tuple[str, ...]:
    """The dotted paths of the catalog: the demo jobs if JOBS_DEMO_JOBS, then JOBS_CATALOG."""
    paths = setting("JOBS_CATALOG")
    demo = [path for path in DEMO_CATALOG if path not in paths] if setting("JOBS_DEMO_JOBS") else []
    return (*demo, *paths)


def catalog_specs() -> list[JobSpec]:
    """The available catalog entries, in settings order."""
    return [spec for spec in _specs(catalog_paths()).values() if spec.available()]


def spec_get(*, name: str) -> JobSpec:
    """The available catalog entry ``name``; raises UnknownJob."""
    spec = _specs(catalog_paths()).get(name)
    if spec is None or not spec.available():
        raise UnknownJob(f"No job named {name!r} in the catalog; see GET /jobs/ for the list.")
    return spec
