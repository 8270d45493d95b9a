import sys

from django.apps import AppConfig
from django.core import checks
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.backends.signals import connection_created

from ledger import checks as ledger_checks


def _flush_in_progress() -> int:
    """1 while Django's flush empties the database (manage.py flush, test teardown), else 0."""
    code = BaseDatabaseOperations.execute_sql_flush.__code__
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is code:
            return 1
        frame = frame.f_back
    return 0


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """Give each SQLite connection the function the append-only triggers consult."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("ledger_flush_in_progress", 0, _flush_in_progress)


class LedgerConfig(AppConfig):
    name = "ledger"
    default_auto_field = "django.db.models.BigAutoField"
    # switchboard's checks refuse a site without REDIS_URL.
    needs_redis = True
    # What the site shows of this app (switchboard.registry).
    nav_label = "Ledger"
    nav_url = "ledger:index"
    blurb = "Transfers settled oldest-first; balances that never go negative."
    # Run by whichever app runs periodic jobs (the jobs app's rqcron): settle what is pending every 30 s.
    periodic_tasks = [
        {"name": "ledger_resolve", "func": "ledger.interface.transfers_resolve", "interval": 30, "timeout": 120}
    ]

    def ready(self) -> None:
        connection_created.connect(register_sqlite_functions, dispatch_uid="ledger.sqlite_functions")
        checks.register(ledger_checks.check_settings, "ledger")
        checks.register(ledger_checks.check_database, checks.Tags.database)

    def health_checks(self) -> list:
        """The ledger check /health and `manage.py health` run: no transfer pending too long."""
        # Imported here: ledger.health imports the app's models, which load only once the app registry is ready.
        from ledger.health import health_checks

        return health_checks()
