"""A transfer's ``chain`` never changes once inserted: the append-only triggers guard it too (issue 16).

0004 added the column, but the triggers of 0002 compare only the columns that existed then, so the
update that settles a pending transfer could also move it into a chain, out of it or into another one (a
settled transfer refuses every update already). The triggers (SQLite) and the trigger function
(PostgreSQL) are replaced with the same guards plus ``chain``; going back restores those of 0002, the
state 0004 left. A later migration that rebuilds the table on SQLite (which drops its triggers) creates
them again from SQLITE_FORWARD here, as 0003 and 0004 do from 0002.
"""

import importlib

from django.db import migrations

append_only = importlib.import_module("ledger.migrations.0002_append_only_log")

SQLITE_FORWARD = [
    """
    CREATE TRIGGER ledger_transfer_no_delete BEFORE DELETE ON ledger_transfer
    WHEN NOT ledger_flush_in_progress()
    BEGIN
        SELECT RAISE(ABORT, 'ledger_transfer is append-only: transfers are never deleted');
    END
    """,
    """
    CREATE TRIGGER ledger_transfer_only_settle BEFORE UPDATE ON ledger_transfer
    WHEN NOT (
        OLD.status = 'pending' AND NEW.status IN ('successful', 'rejected')
        AND NEW.id = OLD.id AND NEW.source_id = OLD.source_id AND NEW.target_id = OLD.target_id
        AND NEW.amount = OLD.amount AND NEW.created = OLD.created
        AND NEW.idempotency_key IS OLD.idempotency_key AND NEW.chain IS OLD.chain
        AND NEW.revision = OLD.revision + 1
    )
    BEGIN
        SELECT RAISE(ABORT, 'ledger_transfer is append-only: only a pending -> successful/rejected move is allowed');
    END
    """,
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS ledger_transfer_no_delete",
    "DROP TRIGGER IF EXISTS ledger_transfer_only_settle",
]

# The sequence of 0002 (ledger_settle_seq) stays as it is in both directions.
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS ledger_transfer_append_only ON ledger_transfer",
    "DROP FUNCTION IF EXISTS ledger_transfer_append_only()",
]
POSTGRES_FORWARD = [
    """
    CREATE FUNCTION ledger_transfer_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'ledger_transfer is append-only: transfers are never deleted'
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF OLD.status <> 'pending' OR NEW.status NOT IN ('successful', 'rejected')
           OR NEW.id <> OLD.id OR NEW.source_id <> OLD.source_id OR NEW.target_id <> OLD.target_id
           OR NEW.amount <> OLD.amount OR NEW.created <> OLD.created
           OR NEW.idempotency_key IS DISTINCT FROM OLD.idempotency_key OR NEW.chain IS DISTINCT FROM OLD.chain
           OR NEW.revision <> OLD.revision + 1 THEN
            RAISE EXCEPTION 'ledger_transfer is append-only: only a pending -> successful/rejected move is allowed'
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER ledger_transfer_append_only BEFORE UPDATE OR DELETE ON ledger_transfer
    FOR EACH ROW EXECUTE FUNCTION ledger_transfer_append_only()
    """,
]
# 0002's function and trigger, without its CREATE SEQUENCE.
POSTGRES_0002 = [sql for sql in append_only.POSTGRES_FORWARD if "CREATE SEQUENCE" not in sql]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0004_linked_chain"),
    ]

    operations = [
        migrations.RunPython(
            _run(
                {
                    "sqlite": [*SQLITE_BACKWARD, *SQLITE_FORWARD],
                    "postgresql": [*POSTGRES_BACKWARD, *POSTGRES_FORWARD],
                }
            ),
            _run(
                {
                    "sqlite": [*SQLITE_BACKWARD, *append_only.SQLITE_FORWARD],
                    "postgresql": [*POSTGRES_BACKWARD, *POSTGRES_0002],
                }
            ),
        ),
    ]
