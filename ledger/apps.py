import sys

from django.apps import AppConfig
from django.core import checks
from django.db.backends.signals import connection_created


def _flush_in_progress() -> int:
    """1 while Django's flush empties the database (manage.py flush, test teardown), else 0."""
    from django.db.backends.base.operations import BaseDatabaseOperations

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

    def ready(self) -> None:
        from ledger import checks as ledger_checks

        connection_created.connect(register_sqlite_functions, dispatch_uid="ledger.sqlite_functions")
        checks.register(ledger_checks.check_settings, "ledger")
        checks.register(ledger_checks.check_database, checks.Tags.database)

    def health_checks(self) -> list:
        """The ledger check /health and `manage.py health` run: no transfer pending too long."""
        from ledger.health import health_checks

        return health_checks()
