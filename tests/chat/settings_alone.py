"""Settings that install chat with the shared package only (no sibling app): proves chat stands alone."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "switchboard",
    "chat",
]
ROOT_URLCONF = "tests.chat.urls_alone"
