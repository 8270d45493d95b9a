"""System checks: the LEDGER_* settings have usable values, and the database is one ledger supports."""

from __future__ import annotations

import sqlite3
from typing import Any

from django.core import checks
from django.db import connection

from ledger.conf import setting


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """LEDGER_* settings: positive integers where needed, a known balance source."""
    errors: list[checks.CheckMessage] = []
    for name, maximum in (
        ("LEDGER_MAX_TRANSFER_AMOUNT", 2**62),
        ("LEDGER_PAGE_SIZE", 1000),
        ("LEDGER_RESOLVE_BATCH", 100_000),
        ("LEDGER_TRANSFER_RATE", 1_000_000),
        ("LEDGER_TRANSFER_RATE_WINDOW", 86_400),
    ):
        value = setting(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= maximum:
            errors.append(
                checks.Error(f"{name}={value!r} is not a whole number from 1 to {maximum}.", id="ledger.E001")
            )
    if setting("LEDGER_BALANCE_SOURCE") not in ("checkpoint", "log"):
        errors.append(
            checks.Error(
                f"LEDGER_BALANCE_SOURCE={setting('LEDGER_BALANCE_SOURCE')!r} is unknown: use 'checkpoint' or 'log'.",
                id="ledger.E002",
            )
        )
    return errors


def check_database(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Ledger serialises settlements with SQLite's or PostgreSQL's locking; other databases are untested."""
    if not databases or "default" not in databases:
        return []
    if connection.vendor not in ("sqlite", "postgresql"):
        return [
            checks.Error(
                f"ledger supports SQLite and PostgreSQL, not {connection.vendor}: set DATABASE_URL to one of them.",
                id="ledger.E003",
            )
        ]
    if connection.vendor == "sqlite":
        if sqlite3.sqlite_version_info < (3, 35):
            return [
                checks.Error(
                    f"ledger needs SQLite 3.35 or later (RETURNING), this Python has {sqlite3.sqlite_version}: "
                    "use a newer Python build or PostgreSQL.",
                    id="ledger.E004",
                )
            ]
    return []
