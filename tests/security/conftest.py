"""Fixtures for the security pass: users with and without each permission, and one object of each app."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Permission

from boards.services import board_notify
from chat.models import Room
from chat.services import room_create
from jobs import services as jobs_services
from jobs.history import history_sync
from jobs.models import JobRun
from ledger.models import Account
from ledger.services import account_create, transfer_create
from tests.jobs.conftest import clean_queues  # noqa: F401  (a fixture)

XSS = "<script>alert(1)</script><img src=x onerror=alert(1)>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Site:
    """One of everything a state-changing endpoint acts on, and who may act."""

    alice: object  # a plain signed-in user: owns alice-main and a job run
    bob: object  # another plain user: owns bob-main
    staff: object
    notifier: object  # has boards.notify_board
    room_maker: object  # has chat.add_room
    room: Room
    board: str
    alice_account: Account
    bob_account: Account
    bank: Account  # a system account (deposits)
    run: JobRun  # alice's, scheduled an hour ahead (so it can be cancelled)


def _user(django_user_model, name: str, *, perm: str | None = None, **extra):
    user = django_user_model.objects.create_user(username=name, password=f"{name}-pass-123", **extra)
    if perm:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


@pytest.fixture
def site(db, django_user_model, clean_queues, django_capture_on_commit_callbacks) -> Site:  # noqa: F811
    alice = _user(django_user_model, "alice")
    bob = _user(django_user_model, "bob")
    bank = account_create(name="bank", kind=Account.Kind.SYSTEM)
    alice_account = account_create(name="alice-main", owner=alice)
    bob_account = account_create(name="bob-main", owner=bob)
    transfer_create(source=bank, target=alice_account, amount=1000)
    transfer_create(source=bank, target=bob_account, amount=1000)
    board = f"sec-{uuid.uuid4().hex[:12]}"
    board_notify(name=board, value={"percent": 1})
    # The test's transaction never commits: run the on-commit push of the durable enqueue now.
    with django_capture_on_commit_callbacks(execute=True):
        queued = jobs_services.job_enqueue(name="countdown", params={"steps": 1}, owner=alice, delay=3600)
    history_sync()
    run = JobRun.objects.get(job_id=queued.job_id)
    return Site(
        alice=alice,
        bob=bob,
        staff=_user(django_user_model, "staffer", is_staff=True),
        notifier=_user(django_user_model, "notifier", perm="boards.notify_board"),
        room_maker=_user(django_user_model, "roommaker", perm="chat.add_room"),
        room=room_create(slug=f"sec-{uuid.uuid4().hex[:8]}", title="Security"),
        board=board,
        alice_account=alice_account,
        bob_account=bob_account,
        bank=bank,
        run=run,
    )
