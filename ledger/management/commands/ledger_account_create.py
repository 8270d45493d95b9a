"""Create a ledger account."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ledger.models import Account
from ledger.services import account_create


class Command(BaseCommand):
    help = "Create a ledger account: customer (never below zero, the default) or system (deposits come from it)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", choices=Account.Kind.values, default=Account.Kind.CUSTOMER)
        parser.add_argument("--owner", help="username of the owner (customer accounts usually have one)")

    def handle(self, *args, name: str, kind: str, owner: str | None, **options):
        user = None
        if owner is not None:
            user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: owner}).first()
            if user is None:
                raise CommandError(f"There is no user {owner!r}: create it first or pass another --owner.")
        try:
            account = account_create(name=name, kind=kind, owner=user)
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(f"Cannot create account {name!r}: {problems}")
        self.stdout.write(f"Created {account.kind} account {account.name!r} (owner: {owner or 'none'}).")
