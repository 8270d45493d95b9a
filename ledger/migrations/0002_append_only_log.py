"""The transfer log is append-only in the database too, and settlements are numbered.

SQLite: triggers refuse DELETE and any UPDATE but pending -> successful/rejected. Django's own
``flush`` (manage.py flush, test teardown) may still empty the table, as TRUNCATE may on
PostgreSQL: ``ledger_flush_in_progress()`` is a function ledger registers on each connection
(see ledger.apps); a connection without it (the sqlite3 shell) cannot delete at all.
PostgreSQL: one row trigger for UPDATE and DELETE, and a sequence numbering settlements.
"""

from django.db import migrations

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
        AND NEW.idempotency_key IS OLD.idempotency_key AND NEW.revision = OLD.revision + 1
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

POSTGRES_FORWARD = [
    "CREATE SEQUENCE ledger_settle_seq",
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
           OR NEW.idempotency_key IS DISTINCT FROM OLD.idempotency_key OR NEW.revision <> OLD.revision + 1 THEN
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
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS ledger_transfer_append_only ON ledger_transfer",
    "DROP FUNCTION IF EXISTS ledger_transfer_append_only()",
    "DROP SEQUENCE IF EXISTS ledger_settle_seq",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            _run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
