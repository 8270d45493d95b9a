"""Ledger models: accounts, and the append-only log of transfers their balances follow from.

An account's balance is defined by the log: the sum of its successful incoming transfers minus
its successful outgoing ones. ``Account.balance`` is a checkpoint of that sum, written only by
``ledger.services`` in the same transaction that settles a transfer, so a balance check is one
row read instead of a scan of the history; ``ledger_audit`` recomputes it from the log.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

ACCOUNT_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class AppendOnlyError(Exception):
    """A transfer was about to be edited or deleted: the log is append-only."""


class Account(models.Model):
    class Kind(models.TextChoices):
        CUSTOMER = "customer", "customer (never below zero)"
        SYSTEM = "system", "system (may go negative: deposits come from it)"

    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(ACCOUNT_NAME_RE, "Use letters, digits, '.', '_' or '-' (64 at most).")],
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CUSTOMER)
    created = models.DateTimeField(default=timezone.now)
    # Checkpoint derived from the log (see the module docstring); never edited by hand.
    balance = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["customer", "system"]),
                name="ledger_account_kind_known",
            ),
            models.CheckConstraint(
                condition=Q(kind="system") | Q(balance__gte=0),
                name="ledger_customer_never_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_system(self) -> bool:
        return self.kind == self.Kind.SYSTEM


class TransferQuerySet(models.QuerySet):
    """Refuses the bulk edits and deletes that would rewrite the log."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError(
            "Transfers are append-only: settle pending ones with ledger.services.transfers_resolve()."
        )

    def settle_update(self, **kwargs: Any) -> int:
        """The settler's compare-and-set (ledger.batch only): the database trigger allows pending -> final alone."""
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Transfers are append-only: they are never deleted.")


class Transfer(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCESSFUL = "successful"
        REJECTED = "rejected"

    FINAL = (Status.SUCCESSFUL, Status.REJECTED)

    source = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    target = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    amount = models.BigIntegerField(help_text="Positive, in minor units (cents).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Strict total order for settling: (created, id).
    created = models.DateTimeField(default=timezone.now)
    revision = models.PositiveIntegerField(default=1)
    # Unique per sending account (ledger_transfer_key_per_source): one sender's keys never touch another's.
    # NULL (no key) rather than "": NULLs never collide in the unique constraint.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    resolved = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True, default="")
    # Order of settlement (unique, increasing): replaying the log in this order reproduces every
    # decision. A transfer that committed late may be settled after a newer one.
    settled_seq = models.BigIntegerField(null=True, blank=True, unique=True)
    # The two balances right after settling (the sender's as seen when deciding, for a rejection).
    source_balance = models.BigIntegerField(null=True, blank=True)
    target_balance = models.BigIntegerField(null=True, blank=True)
    # Linked transfers (TigerBeetle's `linked`): the members of one chain share this id, are inserted in one
    # transaction and settle together, all successful or all rejected. NULL for a transfer on its own.
    chain = models.UUIDField(null=True, blank=True, editable=False)

    objects = TransferQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        permissions = [("resolve_transfer", "Can settle pending transfers")]
        indexes = [
            models.Index(fields=["source", "-created", "-id"], name="ledger_tr_source_idx"),
            models.Index(fields=["target", "-created", "-id"], name="ledger_tr_target_idx"),
            models.Index(fields=["created", "id"], name="ledger_tr_pending_idx", condition=Q(status="pending")),
            models.Index(fields=["chain"], name="ledger_tr_chain_idx", condition=Q(chain__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "idempotency_key"], name="ledger_transfer_key_per_source"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_transfer_amount_positive"),
            models.CheckConstraint(condition=~Q(source=F("target")), name="ledger_transfer_distinct_accounts"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "successful", "rejected"]), name="ledger_transfer_status_known"
            ),
            models.CheckConstraint(
                condition=Q(status="pending", settled_seq__isnull=True, resolved__isnull=True)
                | Q(status__in=["successful", "rejected"], settled_seq__isnull=False, resolved__isnull=False),
                name="ledger_transfer_final_is_sequenced",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.source_id}->{self.target_id} {self.amount} {self.status}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Transfers are append-only: a saved transfer is never edited.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Transfers are append-only: they are never deleted.")

    @property
    def is_final(self) -> bool:
        return self.status != self.Status.PENDING
