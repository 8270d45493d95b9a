"""A minimal host site that installs only jobs, plus the shared package, boards and django_rq.

Jobs needs boards (its progress bars go through ``boards.interface``) and django_rq (its queues).
"""

from tests.hosts.base import *  # noqa: F403
from tests.hosts.base import DJANGO_APPS, REDIS_URL, host_database

INSTALLED_APPS = [*DJANGO_APPS, "django_rq", "switchboard", "boards", "jobs"]
ROOT_URLCONF = "tests.hosts.urls_jobs"
DATABASES = host_database("jobs")
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300} for name in ("high", "default", "low", "system")}
# Job progress boards are private: their runs' owners (and staff) read them.
BOARDS_READ_PERMISSION = "jobs.interface.board_readable"
