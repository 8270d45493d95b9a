"""Print every account's balance."""

from django.core.management.base import BaseCommand

from ledger.models import Account
from ledger.money import money_format


class Command(BaseCommand):
    help = "List accounts with kind, owner and balance (in LEDGER_CURRENCY, formatted)."

    def handle(self, *args, **options):
        accounts = Account.objects.select_related("owner").order_by("name")
        for account in accounts:
            owner = account.owner.get_username() if account.owner else "-"
            self.stdout.write(f"{account.name:<32} {account.kind:<9} {owner:<20} {money_format(account.balance):>20}")
        self.stdout.write(f"{len(accounts)} account(s), total {money_format(sum(a.balance for a in accounts))}")
