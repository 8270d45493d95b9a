"""App configs for run_site's tests: one asks for a background process, one asks for a name that is taken."""

from collections.abc import Mapping
from typing import Any

from django.apps import AppConfig


class BeaconConfig(AppConfig):
    name = "tests.site.background_app"
    label = "beacon"

    def background_processes(
        self, *, python: str, manage: str, options: Mapping[str, Any]
    ) -> list[tuple[str, list[str]]]:
        return [("beacon", [python, manage, "beacon", "--port", str(options["port"])])]


class ClashingConfig(AppConfig):
    name = "tests.site.background_app"
    label = "clashing"

    def background_processes(
        self, *, python: str, manage: str, options: Mapping[str, Any]
    ) -> list[tuple[str, list[str]]]:
        return [("web", [python, manage, "runserver"])]
