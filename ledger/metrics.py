"""What the operations page shows of the ledger: pending transfers, the oldest one's age, settled per minute."""

from __future__ import annotations

from django.db.models import Count, Min
from django.utils import timezone

from ledger.models import Transfer
from switchboard.metrics import Metrics

SETTLED = "ledger.settled"  # per-minute counter, added to by the resolver


def ledger_metrics() -> Metrics:
    """Two indexed reads: the pending count and the oldest pending transfer."""
    pending = Transfer.objects.filter(status=Transfer.Status.PENDING).aggregate(n=Count("pk"), oldest=Min("created"))
    oldest = pending["oldest"]
    age = round((timezone.now() - oldest).total_seconds(), 1) if oldest else 0
    return Metrics(
        title="Ledger",
        numbers={"pending transfers": pending["n"], "oldest pending (s)": age},
        rates={"settled / min": SETTLED},
    )
