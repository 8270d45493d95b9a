"""Settings that install ledger with only the shared package and Django's contrib apps: it stands alone."""

import os
from pathlib import Path

from config.env import database_from_url

BASE_DIR = Path(__file__).resolve().parents[2]
SECRET_KEY = "ledger-alone-test-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "switchboard",
    "ledger",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.ledger.urls_alone"
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
            ]
        },
    }
]
DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"], data_dir=BASE_DIR / "data")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"
LOGIN_URL = "login"
REDIS_URL = os.environ["REDIS_URL"]
ASGI_APPLICATION = "tests.ledger.asgi_alone.application"
SWITCHBOARD_SERVE_STATIC = False  # DEBUG is off: a web server would serve STATIC_ROOT
