"""The ledger's health check (switchboard.health): no transfer stays pending longer than it should."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone

from ledger.conf import setting
from ledger.models import Transfer
from switchboard.health import Check


def check_pending_age() -> Check:
    """No pending transfer is older than LEDGER_HEALTH_PENDING_MAX_AGE seconds (the resolver keeps up)."""
    max_age = float(setting("LEDGER_HEALTH_PENDING_MAX_AGE"))
    pending = Transfer.objects.filter(status=Transfer.Status.PENDING)
    oldest = pending.order_by("created", "id").values_list("created", flat=True).first()
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    stale = pending.filter(created__lt=timezone.now() - timedelta(seconds=max_age)).count()
    return Check(
        "ledger_pending_age",
        stale == 0,
        {"pending": pending.count(), "older_than_max": stale, "oldest_seconds": round(age, 1), "max_age": max_age},
    )


def health_checks() -> list[Callable[[], Check]]:
    """What LedgerConfig.health_checks() declares."""
    return [check_pending_age]
