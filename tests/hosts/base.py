"""What every minimal host site shares: a plain Django site's settings, and nothing from config/.

Each ``settings_<app>.py`` installs one Switchboard app (plus the shared ``switchboard`` package) on
top of this, to prove the app stands alone. Run one by hand with::

    DJANGO_SETTINGS_MODULE=tests.hosts.settings_chat python manage.py migrate
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = "host-site-test-key-not-for-production"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# The one Redis every app uses; the suite passes its own.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_TZ = True
STATIC_URL = "static/"
LOGIN_URL = "login"


def host_database(app: str) -> dict:
    """A SQLite database of the host's own: SWITCHBOARD_HOST_DB, else data/host-<app>.sqlite3."""
    default = ROOT / "data" / f"host-{app}.sqlite3"
    name = Path(os.environ.get("SWITCHBOARD_HOST_DB") or default)
    name.parent.mkdir(parents=True, exist_ok=True)
    # WAL and synchronous=NORMAL, as the site uses: migrate is several times faster than with fsyncs.
    options = {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    return {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(name), "OPTIONS": options}}
