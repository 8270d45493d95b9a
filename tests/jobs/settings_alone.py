"""Settings that install jobs with the shared package only (no sibling app): proves jobs stands alone."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "switchboard",
    "jobs",
]
ROOT_URLCONF = "tests.jobs.urls_alone"
SWITCHBOARD_NAV_EXTRA = []
