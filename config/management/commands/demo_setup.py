"""Create the demo admin user and each app's demo data (idempotent: safe to run again).

Only with DEBUG on (or --force): a production site (DEBUG=0) never gets an admin/admin superuser silently.
"""

import importlib

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a demo admin user and load the demo data of every installed app (config/demo/<app>.py)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")
        parser.add_argument("--force", action="store_true", help="load the demo even with DEBUG=0")

    def handle(self, *args, username: str, password: str, force: bool = False, **options):
        if not (settings.DEBUG or force):
            self.stdout.write(
                "Demo data not loaded: DEBUG is off (production), so no demo admin is created. "
                "Run manage.py demo_setup --force to load it anyway."
            )
            return
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
        )
        if created:
            user.set_password(password)
            user.save()
            self.stdout.write(self.style.SUCCESS(f"Demo admin created: username {username!r}, password {password!r}"))
        else:
            self.stdout.write(f"Demo admin exists: username {username!r} (password unchanged)")
        for config in apps.get_app_configs():
            try:
                module = importlib.import_module(f"config.demo.{config.label}")
            except ModuleNotFoundError as exc:
                if exc.name != f"config.demo.{config.label}":
                    raise
                continue
            summary = module.demo_load(admin=user)
            self.stdout.write(f"{config.label}: {summary or 'demo data ready'}")
