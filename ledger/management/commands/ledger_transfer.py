"""Move money between two accounts."""

from django.core.management.base import BaseCommand, CommandError

from ledger.money import money_format
from ledger.selectors import account_get
from ledger.services import InsufficientFunds, LedgerError, transfer_create


class Command(BaseCommand):
    help = "Transfer AMOUNT minor units from one account to another; exits non-zero when it is rejected."

    def add_arguments(self, parser):
        parser.add_argument("source", metavar="from")
        parser.add_argument("target", metavar="to")
        parser.add_argument("amount", help="a positive whole number of minor units (cents)")
        parser.add_argument("--key", help="idempotency key: running again with it never moves money twice")

    def handle(self, *args, source: str, target: str, amount: str, key: str | None, **options):
        try:
            value = int(amount)
        except ValueError:
            raise CommandError(f"Amount {amount!r} is not a whole number of minor units (cents).")
        accounts = []
        for name in (source, target):
            account = account_get(name=name)
            if account is None:
                raise CommandError(f"There is no account {name!r}: see `manage.py ledger_balances`.")
            accounts.append(account)
        try:
            transfer = transfer_create(source=accounts[0], target=accounts[1], amount=value, idempotency_key=key)
        except InsufficientFunds as exc:
            raise CommandError(f"Rejected: {exc}")
        except LedgerError as exc:
            raise CommandError(str(exc))
        note = " (already done with this key)" if transfer.replayed else ""
        self.stdout.write(
            f"Transfer #{transfer.pk}: {source} -> {target} {money_format(transfer.amount)} {transfer.status}{note}"
        )
