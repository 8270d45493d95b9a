"""Idempotency keys are unique per sending account, not across the whole ledger (issue 13, row 5).

SQLite rebuilds the table to change its constraints, which drops its triggers: the append-only
triggers of 0002 are created again afterwards.
"""

import importlib

from django.db import migrations, models

append_only = importlib.import_module("ledger.migrations.0002_append_only_log")


def sqlite_triggers_again(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for sql in [*append_only.SQLITE_BACKWARD, *append_only.SQLITE_FORWARD]:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0002_append_only_log"),
    ]

    operations = [
        migrations.AlterField(
            model_name="transfer",
            name="idempotency_key",
            field=models.CharField(blank=True, max_length=100, null=True),
        ),
        migrations.AddConstraint(
            model_name="transfer",
            constraint=models.UniqueConstraint(
                fields=("source", "idempotency_key"), name="ledger_transfer_key_per_source"
            ),
        ),
        migrations.RunPython(sqlite_triggers_again, sqlite_triggers_again),
    ]
