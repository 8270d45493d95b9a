"""A settler killed with SIGKILL in the middle of its batch: nothing half-written, and the others take over."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest
from django.db import connection

from ledger.models import Transfer
from ledger.selectors import ledger_audit
from ledger.services import transfer_create, transfer_submit
from tests.conftest import ROOT
from tests.ledger.conftest import fund_pair

pytestmark = pytest.mark.django_db(transaction=True)

# Decides the pending transfers (taking the settler lock and the accounts' locks), then hangs before COMMIT.
SETTLER = """
import django, sys, time
django.setup()
from django.db import transaction
from ledger import batch
with transaction.atomic():
    batch._settler_lock(wait=True) if batch.connection.vendor == "postgresql" else None
    decided = batch._settle(limit=100, path="orm", now=batch.timezone.now(), up_to=None)
    print(len(decided), flush=True)
    time.sleep(600)
"""


def test_a_settler_killed_before_its_commit_leaves_nothing_and_the_next_submitter_takes_over(
    child_env, user, other_user, settings
):
    alice, bob = fund_pair(user, other_user)
    first, _ = transfer_submit(source=alice, target=bob, amount=700)
    settler = subprocess.Popen(
        [sys.executable, "-c", SETTLER],
        env=child_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert settler.stdout.readline().strip() == "1", settler.stderr.read()  # decided, written, not committed
        outcome: dict[str, object] = {}

        def submit() -> None:
            try:
                outcome["transfer"] = transfer_create(source=alice, target=bob, amount=200)
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                connection.close()

        submitter = threading.Thread(target=submit)
        submitter.start()
        time.sleep(0.5)
        assert submitter.is_alive(), f"the submitter did not wait for the settler at work: {outcome}"
        killed = time.monotonic()
        settler.send_signal(signal.SIGKILL)
        settler.wait(10)
        submitter.join(30)
        took = time.monotonic() - killed
    finally:
        if settler.poll() is None:
            settler.kill()
    assert not submitter.is_alive() and "error" not in outcome, outcome
    # Bound: the lock goes with the connection, then at most LEDGER_SETTLE_WAIT (0.1 s) before a re-read.
    assert took < 5, took
    assert outcome["transfer"].status == "successful"
    first.refresh_from_db()
    assert first.status == "successful" and first.settled_seq < outcome["transfer"].settled_seq
    assert not Transfer.objects.filter(status="pending").exists()
    assert ledger_audit().ok
