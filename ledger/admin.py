"""Admin: accounts with their balances; transfers read-only, with an action to settle pending ones."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from ledger.models import Account, Transfer
from ledger.money import money_format
from ledger.services import transfers_resolve


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "owner", "balance_shown", "created")
    list_filter = ("kind",)
    search_fields = ("name", "owner__username")
    raw_id_fields = ("owner",)
    readonly_fields = ("balance_shown", "created")
    exclude = ("balance",)  # a derived checkpoint: shown as money, never typed

    @admin.display(description="balance", ordering="balance")
    def balance_shown(self, obj: Account) -> str:
        return money_format(obj.balance)

    def get_readonly_fields(self, request: HttpRequest, obj: Account | None = None) -> tuple[str, ...]:
        # The kind decides whether a balance may be negative: fixed once the account exists.
        return (*self.readonly_fields, "kind") if obj is not None else self.readonly_fields


class AccountFilter(admin.SimpleListFilter):
    """Transfers from or to one account."""

    title = "account"
    parameter_name = "account"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(pk), name) for pk, name in Account.objects.order_by("name").values_list("pk", "name")[:500]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> QuerySet[Transfer]:
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(Q(source_id=int(value)) | Q(target_id=int(value)))
        return queryset


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    list_display = ("id", "source", "target", "amount_shown", "status", "reason", "created", "resolved", "settled_seq")
    list_filter = ("status", AccountFilter)
    list_select_related = ("source", "target")
    search_fields = ("idempotency_key",)
    actions = ["resolve_pending"]
    show_full_result_count = False
    ordering = ("-id",)  # the primary key index: no sort of the whole log for the list

    @admin.display(description="amount", ordering="amount")
    def amount_shown(self, obj: Transfer) -> str:
        return money_format(obj.amount)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Transfer | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Transfer | None = None) -> bool:
        return False

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ledger.resolve_transfer")

    @admin.action(description="Settle pending transfers up to the selected ones", permissions=["resolve"])
    def resolve_pending(self, request: HttpRequest, queryset: QuerySet[Transfer]) -> None:
        newest = queryset.filter(status=Transfer.Status.PENDING).order_by("-created", "-id").first()
        if newest is None:
            self.message_user(request, "None of the selected transfers is pending.", messages.WARNING)
            return
        count = transfers_resolve(up_to=newest)
        self.message_user(request, f"Settled {count} pending transfer(s), oldest first.", messages.SUCCESS)
