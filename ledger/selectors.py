"""Ledger reads: balances, who may see or move what, account histories, and the audit."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet, Sum

from ledger.models import Account, Transfer


def account_balance_from_log(*, account: Account) -> int:
    """The recipe's balance: SUM of the account's successful transfers over the whole log (O(history))."""
    totals = Transfer.objects.filter(
        Q(source=account) | Q(target=account), status=Transfer.Status.SUCCESSFUL
    ).aggregate(credit=Sum("amount", filter=Q(target=account)), debit=Sum("amount", filter=Q(source=account)))
    return (totals["credit"] or 0) - (totals["debit"] or 0)


def balances_from_log() -> dict[int, int]:
    """Every account's balance summed from the whole log, by account id (accounts without transfers: 0)."""
    balances = dict.fromkeys(Account.objects.values_list("pk", flat=True), 0)
    successful = Transfer.objects.filter(status=Transfer.Status.SUCCESSFUL)
    for pk, total in successful.values("target").annotate(total=Sum("amount")).values_list("target", "total"):
        balances[pk] += total
    for pk, total in successful.values("source").annotate(total=Sum("amount")).values_list("source", "total"):
        balances[pk] -= total
    return balances


def account_get(*, name: str) -> Account | None:
    """The account with this name, or None."""
    return Account.objects.filter(name=name).select_related("owner").first()


def accounts_visible(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Account]:
    """Accounts a user may see: all for staff, their own for a signed-in user, none for a visitor."""
    if not user.is_authenticated:
        return Account.objects.none()
    accounts = Account.objects.select_related("owner").order_by("name")
    return accounts if user.is_staff else accounts.filter(owner=user)


def account_can_view(*, account: Account, user: AbstractBaseUser | AnonymousUser) -> bool:
    """Owners and staff may see an account and its transfers."""
    return user.is_authenticated and (user.is_staff or account.owner_id == user.pk)


def account_can_send(*, account: Account, user: AbstractBaseUser | AnonymousUser) -> bool:
    """Owners may move money from their account; staff from system accounts (deposits)."""
    if not user.is_authenticated:
        return False
    return account.owner_id == user.pk or (account.is_system and user.is_staff)


def transfers_of_account(*, account: Account) -> QuerySet[Transfer]:
    """The account's transfers in and out, newest first."""
    return (
        Transfer.objects.filter(Q(source=account) | Q(target=account))
        .select_related("source", "target")
        .order_by("-created", "-id")
    )


def account_balance_points(*, account: Account, limit: int) -> list[tuple[datetime, int]]:
    """The account's balance after each of its newest ``limit`` settled transfers, oldest first.

    Read from the checkpoints kept with each settlement (source_balance/target_balance), never summed:
    one indexed query of at most ``limit`` rows. Rejected transfers do not move a balance and are left out.
    """
    rows = (
        Transfer.objects.filter(Q(source=account) | Q(target=account), status=Transfer.Status.SUCCESSFUL)
        .order_by("-settled_seq")
        .values_list("resolved", "source_id", "source_balance", "target_balance")[:limit]
    )
    points = [(when, src_after if source == account.pk else dst_after) for when, source, src_after, dst_after in rows]
    points.reverse()
    return points


@dataclass
class AuditReport:
    """What ledger_audit found; ``ok`` is False on any mismatch."""

    accounts: int = 0
    settled: int = 0
    pending: int = 0
    total: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def ledger_audit() -> AuditReport:
    """Recompute everything from the log: checkpoints vs the full SUM, and a replay of every decision."""
    report = AuditReport()
    accounts = {a.pk: a for a in Account.objects.all()}
    report.accounts = len(accounts)
    summed = balances_from_log()
    report.total = sum(summed.values())
    if report.total != 0:
        report.problems.append(f"balances over all accounts sum to {report.total}, not 0")
    for pk, account in accounts.items():
        if account.balance != summed[pk]:
            report.problems.append(f"{account.name}: checkpoint {account.balance} but the log sums to {summed[pk]}")
    report.pending = Transfer.objects.filter(status=Transfer.Status.PENDING).count()
    replay: dict[int, int] = defaultdict(int)
    rows = (
        Transfer.objects.exclude(settled_seq=None)
        .order_by("settled_seq")
        .values_list("pk", "source", "target", "amount", "status", "source_balance", "target_balance", "chain")
    )
    chains: dict[Any, set[str]] = defaultdict(set)
    for pk, source, target, amount, status, source_after, target_after, chain in rows.iterator(chunk_size=10_000):
        report.settled += 1
        if chain is not None:
            chains[chain].add(status)
        customer = not accounts[source].is_system
        if status == Transfer.Status.SUCCESSFUL:
            if customer and replay[source] < amount:
                report.problems.append(
                    f"transfer #{pk} takes {accounts[source].name} below zero ({replay[source]} < {amount})"
                )
            replay[source] -= amount
            replay[target] += amount
        elif customer and replay[source] >= amount and chain is None:  # a chain member fails with its chain
            report.problems.append(f"transfer #{pk} was rejected although {accounts[source].name} had {replay[source]}")
        if (source_after, target_after) != (replay[source], replay[target]):
            report.problems.append(
                f"transfer #{pk} records balances {source_after}/{target_after}, "
                f"replay gives {replay[source]}/{replay[target]}"
            )
    for chain, statuses in chains.items():
        if len(statuses) > 1:
            report.problems.append(f"linked chain {chain} is half-applied: {', '.join(sorted(statuses))}")
    for pk, account in accounts.items():
        if replay[pk] != summed[pk]:
            report.problems.append(
                f"{account.name}: replay in settlement order gives {replay[pk]}, the SUM {summed[pk]}"
            )
    return report
