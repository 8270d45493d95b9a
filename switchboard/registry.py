"""What the installed apps declare for the site: navigation entries, home-page blurbs, periodic tasks.

An app declares them as attributes of its AppConfig, the way debug-toolbar's panels declare their
title and template; the site asks the installed apps, so this package names none of them::

    class NotesConfig(AppConfig):
        nav_label = "Notes"              # the navigation link's text
        nav_url = "notes:index"          # a URL name; skipped when the host did not include the app's URLs
        blurb = "Notes, live."           # one sentence for a home page
        periodic_tasks = [                # run by whichever installed app runs periodic tasks (rqcron)
            {"name": "notes_sweep", "func": "notes.interface.sweep", "interval": 60},
        ]

Background processes are a method of the AppConfig (see switchboard.management.commands.run_site).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class AppEntry:
    """One installed app as the site shows it: a navigation link and a blurb."""

    app_label: str
    label: str
    url_name: str
    blurb: str


def app_entries() -> list[AppEntry]:
    """The installed apps that declare a navigation entry (``nav_url``), in INSTALLED_APPS order."""
    entries = []
    for config in apps.get_app_configs():
        url_name = getattr(config, "nav_url", "")
        if not url_name:
            continue
        label = getattr(config, "nav_label", "") or str(config.verbose_name)
        entries.append(AppEntry(config.label, label, url_name, getattr(config, "blurb", "")))
    return entries


PERIODIC_KEYS = {"name", "func", "interval", "cron", "queue", "timeout", "kwargs"}


def periodic_tasks() -> list[dict[str, Any]]:
    """The periodic tasks the installed apps declare (AppConfig.periodic_tasks), in INSTALLED_APPS order.

    Each is a dict: ``name``, ``func`` (a dotted path, called with ``kwargs``), exactly one of ``interval``
    (seconds) or ``cron`` (a crontab line), and optionally ``queue`` and ``timeout`` (seconds).
    """
    declared: list[dict[str, Any]] = []
    names: set[str] = set()
    for config in apps.get_app_configs():
        for entry in getattr(config, "periodic_tasks", ()):
            problem = _periodic_problem(entry)
            if not problem and entry["name"] in names:
                problem = f"the name {entry['name']!r} is taken by another app's periodic task"
            if problem:
                raise ImproperlyConfigured(
                    f"App {config.label!r} declares a bad periodic task {entry!r}: {problem}; fix its AppConfig."
                )
            names.add(entry["name"])
            declared.append({"app": config.label, **entry})
    return declared


def _periodic_problem(entry: Any) -> str:
    if not isinstance(entry, dict):
        return "it is not a dict"
    if unknown := set(entry) - PERIODIC_KEYS:
        return f"unknown keys {sorted(unknown)}"
    if not entry.get("name") or not entry.get("func"):
        return "it needs a 'name' and a 'func' (dotted path)"
    if bool(entry.get("interval")) == bool(entry.get("cron")):
        return "it needs exactly one of 'interval' or 'cron'"
    return ""
