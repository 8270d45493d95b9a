"""A minimal host site that installs only chat (plus the shared package)."""

from tests.hosts.base import *  # noqa: F403
from tests.hosts.base import DJANGO_APPS, host_database

INSTALLED_APPS = [*DJANGO_APPS, "switchboard", "chat"]
ROOT_URLCONF = "tests.hosts.urls_chat"
DATABASES = host_database("chat")
