from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The Switchboard demo site: its home and login pages, the demo_setup command. Not shipped."""

    name = "config"
    label = "site"
    verbose_name = "Switchboard site"
