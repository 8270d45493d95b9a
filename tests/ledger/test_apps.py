"""The app registers its checks and, on SQLite, the function the append-only triggers consult."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from ledger.apps import _flush_in_progress
from ledger.models import Transfer
from tests.ledger.conftest import fund_pair


def test_outside_a_flush_the_trigger_function_says_no():
    assert _flush_in_progress() == 0


def test_djangos_flush_may_empty_the_log_but_a_delete_may_not(transactional_db, user, other_user):
    fund_pair(user, other_user)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledger_transfer")
    call_command("flush", interactive=False, verbosity=0)
    assert Transfer.objects.count() == 0
