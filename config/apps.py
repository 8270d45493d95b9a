from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The Switchboard demo site: its home and login pages, the demo_setup command. Not shipped."""

    name = "config"
    label = "site"
    verbose_name = "Switchboard site"
    # The operations page's live updates: notify the private "ops" board (run by rqcron with the apps' tasks).
    periodic_tasks = [{"name": "ops_publish", "func": "config.ops.ops_publish", "interval": 10, "queue": "system"}]
