"""The baseline: the CouchDB recipe as the issue describes it, written the straightforward ORM way.

Insert the transfer pending; then settle pending transfers oldest first, each by computing the
sender's balance as a SUM over the successful transfers of the whole log, and marking it with a
compare-and-set on status and revision. No checkpoint is read (it is still kept up to date, so the
measured ledger stays consistent for the next phase), and nothing serialises the check and the
decision: the recipe's known race, harmless here because the benchmark's balances never run dry.
"""

from __future__ import annotations

from django.db import connection, models, transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

from ledger.models import Account, Transfer


def naive_balance(account: Account) -> int:
    """The recipe's balance: everything the account received minus everything it sent, over the log."""
    successful = Transfer.objects.filter(status="successful")
    received = successful.filter(target=account).aggregate(total=Sum("amount"))["total"] or 0
    sent = successful.filter(source=account).aggregate(total=Sum("amount"))["total"] or 0
    return received - sent


def naive_next_seq() -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval('ledger_settle_seq')")
            return cursor.fetchone()[0]
    return (Transfer.objects.aggregate(top=Max("settled_seq"))["top"] or 0) + 1


def naive_settle(pending: Transfer) -> None:
    balance = naive_balance(pending.source)
    approved = pending.source.kind == "system" or balance >= pending.amount
    with transaction.atomic():
        # Compare-and-set on status and revision (Transfer's manager refuses update(); the trigger allows this one).
        changed = models.QuerySet.update(
            Transfer.objects.filter(pk=pending.pk, status="pending", revision=pending.revision),
            status="successful" if approved else "rejected",
            revision=pending.revision + 1,
            resolved=timezone.now(),
            reason="" if approved else "insufficient funds",
            settled_seq=naive_next_seq(),
        )
        if changed and approved:
            Account.objects.filter(pk=pending.source_id).update(balance=models.F("balance") - pending.amount)
            Account.objects.filter(pk=pending.target_id).update(balance=models.F("balance") + pending.amount)


def naive_transfer_create(*, source: Account, target: Account, amount: int) -> Transfer:
    transfer = Transfer.objects.create(source=source, target=target, amount=amount)
    pending = (
        Transfer.objects.filter(status="pending")
        .filter(Q(created__lt=transfer.created) | Q(created=transfer.created, pk__lte=transfer.pk))
        .select_related("source")
        .order_by("created", "id")
    )
    for each in pending:
        naive_settle(each)
    return Transfer.objects.get(pk=transfer.pk)
