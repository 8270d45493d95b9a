"""A minimal host site that installs only boards (plus the shared package)."""

from tests.hosts.base import *  # noqa: F403
from tests.hosts.base import DJANGO_APPS, host_database

INSTALLED_APPS = [*DJANGO_APPS, "switchboard", "boards"]
ROOT_URLCONF = "tests.hosts.urls_boards"
DATABASES = host_database("boards")
