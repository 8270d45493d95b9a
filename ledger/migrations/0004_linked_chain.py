"""Linked transfers: members of one chain share ``chain`` and settle all successful or all rejected (issue 16).

A nullable column is added in place on SQLite (no table rebuild); the append-only triggers of 0002 are
created again anyway, as 0003 does, so that the log stays guarded whatever the SQLite version does.
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
        ("ledger", "0003_idempotency_key_per_source"),
    ]

    operations = [
        migrations.AddField(
            model_name="transfer",
            name="chain",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="transfer",
            index=models.Index(
                condition=models.Q(("chain__isnull", False)), fields=["chain"], name="ledger_tr_chain_idx"
            ),
        ),
        migrations.RunPython(sqlite_triggers_again, sqlite_triggers_again),
    ]
