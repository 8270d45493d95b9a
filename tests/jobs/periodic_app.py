"""An app config that declares a periodic job with both an interval and a cron line (for test_cron)."""

from django.apps import AppConfig


class BadPeriodicConfig(AppConfig):
    name = "tests.jobs"
    label = "bad_periodic"
    periodic_tasks = [{"name": "twice", "func": "jobs.builtin.noop", "interval": 5, "cron": "* * * * *"}]
