"""The soak's Django side, run as a child process with the site's environment: setup and final inspection.

``python bench/soak_db.py setup '<json spec>'`` creates the users (with sessions, so hundreds of clients do
not each pay for a password hash at sign-in), chat rooms and ledger accounts through the apps' services,
and prints JSON with the session cookies. ``python bench/soak_db.py inspect '<json spec>'`` prints what the
final checks need that no HTTP endpoint gives (the ledger's transfers by idempotency key).
"""

from __future__ import annotations

import json
import secrets
import sys
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def django_setup() -> None:
    import django

    django.setup()


def session_for(user) -> dict[str, str]:
    """Cookies of a signed-in session for ``user`` (what a sign-in would set), with a CSRF token."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    # A 32-character CSRF secret is a valid token both as the cookie and as the X-CSRFToken header.
    token = secrets.token_hex(16)
    return {settings.SESSION_COOKIE_NAME: store.session_key, settings.CSRF_COOKIE_NAME: token}


def user_with_session(username: str, *, staff: bool = False) -> tuple[object, dict[str, str]]:
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": staff})
    user.set_unusable_password()
    user.save()
    return user, session_for(user)


def setup_chat(spec: dict) -> dict:
    """Create the rooms; returns their slugs."""
    from chat import services

    slugs = []
    for number in range(1, spec["rooms"] + 1):
        slug = f"soak-{number}"
        services.room_create(slug=slug, title=f"Soak room {number}")
        slugs.append(slug)
    return {"rooms": slugs}


def setup_ledger(spec: dict, users: list) -> dict:
    """A system account and one funded customer account per ledger client; returns names and deposits."""
    from ledger import services

    bank = services.account_create(name="soak-bank", kind="system", owner=None)
    accounts = []
    for number, user in enumerate(users, start=1):
        account = services.account_create(name=f"soak-{number}", kind="customer", owner=user)
        services.transfer_create(source=bank, target=account, amount=spec["deposit"], idempotency_key=f"dep-{number}")
        accounts.append(account.name)
    return {"bank": bank.name, "accounts": accounts, "deposits": spec["deposit"] * len(accounts)}


def prepare(spec: dict) -> dict:
    """Migrate, load the demo data (demo_setup: admin/admin), and tell the jobs app's background processes.

    They come from ``JobsConfig.background_processes``, as run_site starts them: ``spec`` gives its
    ``python``, ``manage`` and ``rq_workers`` (workers per queue).
    """
    from django.apps import apps
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("demo_setup", "--force", stdout=sys.stderr)
    processes = apps.get_app_config("jobs").background_processes(
        python=spec["python"], manage=spec["manage"], options={"rq_workers": spec["rq_workers"]}
    )
    return {"background_processes": processes}


def setup(spec: dict) -> dict:
    out: dict = {"users": {}}
    _, out["staff"] = user_with_session("soak-staff", staff=True)
    for role in ("poster", "reader", "jobs", "ledger"):
        out["users"][role] = []
    for number in range(1, spec["posters"] + 1):
        out["users"]["poster"].append(user_with_session(f"soak-poster-{number}")[1])
    out["users"]["reader"].append(user_with_session("soak-reader")[1])
    for number in range(1, spec["job_clients"] + 1):
        out["users"]["jobs"].append(user_with_session(f"soak-jobs-{number}")[1])
    ledger_users = []
    for number in range(1, spec["ledger_clients"] + 1):
        user, cookies = user_with_session(f"soak-ledger-{number}")
        ledger_users.append(user)
        out["users"]["ledger"].append(cookies)
    if "chat" in spec["apps"]:
        out["chat"] = setup_chat(spec)
    if "ledger" in spec["apps"]:
        out["ledger"] = setup_ledger(spec, ledger_users)
    return out


def inspect(spec: dict) -> dict:
    """The ledger after the run: this run's transfers by key, pending count, balances, the audit report."""
    from django.db.models import Sum

    from ledger.models import Account, Transfer
    from ledger.selectors import ledger_audit

    rows = Transfer.objects.filter(idempotency_key__startswith="soak-").values_list(
        "idempotency_key", "status", "amount"
    )
    by_key: dict[str, list] = {}
    for key, status, amount in rows:
        by_key.setdefault(key, []).append([status, amount])
    customers = Account.objects.filter(name__startswith="soak-").exclude(kind="system")
    report = ledger_audit()
    return {
        "by_key": by_key,
        "pending": Transfer.objects.filter(status="pending").count(),
        "customer_total": customers.aggregate(total=Sum("balance"))["total"] or 0,
        "negative": list(customers.filter(balance__lt=0).values_list("name", flat=True)),
        "audit_problems": report.problems[:10],
    }


def job_rows(spec: dict) -> dict:
    """How many JobRun rows each given job id has, and how many attempts each row recorded."""
    from django.db.models import Count

    from jobs.models import JobRun

    ids = spec["ids"]
    counts = dict(JobRun.objects.filter(job_id__in=ids).values_list("job_id").annotate(n=Count("id")).order_by())
    attempts = dict(JobRun.objects.filter(job_id__in=ids).values_list("job_id", "attempts"))
    return {"rows": {job_id: counts.get(job_id, 0) for job_id in ids}, "attempts": attempts}


if __name__ == "__main__":
    django_setup()
    command, raw = sys.argv[1], sys.argv[2]
    result = {"prepare": prepare, "setup": setup, "inspect": inspect, "job_rows": job_rows}[command](json.loads(raw))
    print(json.dumps(result))
