"""A minimal host site that installs only ledger (plus the shared package)."""

from tests.hosts.base import *  # noqa: F403
from tests.hosts.base import DJANGO_APPS, host_database

INSTALLED_APPS = [*DJANGO_APPS, "switchboard", "ledger"]
ROOT_URLCONF = "tests.hosts.urls_ledger"
DATABASES = host_database("ledger")
