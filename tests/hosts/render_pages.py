"""Render pages of the host site named by DJANGO_SETTINGS_MODULE with the test client; print JSON.

    DJANGO_SETTINGS_MODULE=tests.hosts.settings_chat python -m tests.hosts.render_pages /chat/

Pages are fetched signed in as a user of the host's own (created when missing). Prints
``{"apps": [...installed app labels...], "pages": {path: {"status": ..., "text": ...}}}``.
"""

from __future__ import annotations

import json
import sys


def main(paths: list[str]) -> int:
    import django

    django.setup()
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils.html import strip_tags

    user, _ = get_user_model().objects.get_or_create(username="host-user")
    client = Client()
    client.force_login(user)
    pages = {}
    for path in paths:
        response = client.get(path)
        text = strip_tags(response.content.decode(errors="replace")) if response.status_code == 200 else ""
        pages[path] = {"status": response.status_code, "text": " ".join(text.split())}
    print(json.dumps({"apps": [config.label for config in apps.get_app_configs()], "pages": pages}))
    return 0 if all(page["status"] == 200 for page in pages.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
