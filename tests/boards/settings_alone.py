"""Settings installing the boards app alone (with the shared package): proves it needs no sibling app."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "switchboard",
    "boards",
]
ROOT_URLCONF = "tests.boards.urls_alone"
