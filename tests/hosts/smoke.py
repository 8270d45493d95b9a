"""Check, migrate and render the host site named by DJANGO_SETTINGS_MODULE, in one process; print JSON.

    DJANGO_SETTINGS_MODULE=tests.hosts.settings_chat python -m tests.hosts.smoke /chat/ [--flow chat]

Runs ``check --fail-level WARNING`` and ``migrate``, then fetches each path with the test client,
signed in as a user of the host's own, then runs the app's main flow (``tests.hosts.flows``) when
``--flow`` names it. Prints ``{"check": ..., "apps": [...], "pages": {path: {"status": ...,
"text": ...}}, "flow": {...}}`` and exits 1 when a page does not answer 200.
"""

from __future__ import annotations

import argparse
import io
import json
import sys


def main(paths: list[str], flow: str | None = None) -> int:
    import django

    django.setup()
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.utils.html import strip_tags

    check = io.StringIO()
    call_command("check", fail_level="WARNING", stdout=check)  # raises SystemCheckError on a warning
    call_command("migrate", interactive=False, verbosity=0)

    user, _ = get_user_model().objects.get_or_create(username="host-user")
    client = Client()
    client.force_login(user)
    pages = {}
    for path in paths:
        response = client.get(path)
        text = strip_tags(response.content.decode(errors="replace")) if response.status_code == 200 else ""
        pages[path] = {"status": response.status_code, "text": " ".join(text.split())}
    observed = None
    if flow:
        from tests.hosts.flows import FLOWS

        observed = FLOWS[flow](client, user)
    labels = [config.label for config in apps.get_app_configs()]
    print(json.dumps({"check": check.getvalue().strip(), "apps": labels, "pages": pages, "flow": observed}))
    return 0 if all(page["status"] == 200 for page in pages.values()) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="pages to render")
    parser.add_argument("--flow", choices=["chat", "boards", "jobs", "ledger"], help="the app whose main flow to run")
    arguments = parser.parse_args()
    sys.exit(main(arguments.paths, flow=arguments.flow))
