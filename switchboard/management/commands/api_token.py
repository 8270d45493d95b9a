"""Create, list and revoke API tokens: `api_token create <username> [--name NAME]` prints the secret once."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from switchboard.models import ApiToken
from switchboard.tokens import token_create, token_revoke


class Command(BaseCommand):
    help = (
        "API tokens for scripts (Authorization: Bearer <secret>). `create <username>` prints the new secret "
        "(only then: it is stored hashed), `list [<username>]` shows tokens by prefix, `revoke <prefix>` ends one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create a token for a user and print its secret.")
        create.add_argument("username")
        create.add_argument("--name", default="script", help="What the token is for (default: script).")
        listing = actions.add_parser("list", help="List tokens (prefix, user, name, created, revoked).")
        listing.add_argument("username", nargs="?")
        revoke = actions.add_parser("revoke", help="Revoke the token whose secret starts with this prefix.")
        revoke.add_argument("prefix")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, f"_{action}")(**options)

    def _create(self, *, username: str, name: str, **_) -> None:
        user = self._user(username)
        if not name.strip() or len(name) > 100:
            raise CommandError("--name must be 1 to 100 characters: say what the token is for.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive: its tokens would not work. Activate it first.")
        token, secret = token_create(user=user, name=name.strip())
        self.stderr.write(f"Token {token.prefix}... for {username}: the secret below is shown only now.")
        self.stdout.write(secret)

    def _list(self, *, username: str | None, **_) -> None:
        tokens = ApiToken.objects.select_related("user").order_by("created")
        if username is not None:
            tokens = tokens.filter(user=self._user(username))
        for token in tokens:
            state = f"revoked {token.revoked:%Y-%m-%d %H:%M}" if token.revoked else "active"
            self.stdout.write(f"{token.prefix}  {token.user}  {token.name}  {token.created:%Y-%m-%d %H:%M}  {state}")

    def _revoke(self, *, prefix: str, **_) -> None:
        matches = list(ApiToken.objects.filter(prefix__startswith=prefix)[:2]) if len(prefix) >= 6 else []
        if len(matches) != 1:
            found = "no token" if not matches else "more than one token"
            raise CommandError(f"{found} starts with {prefix!r}: give at least 6 characters of one prefix (see list).")
        token = token_revoke(token=matches[0])
        self.stdout.write(f"Revoked {token.prefix}... ({token.name}, {token.user}).")

    @staticmethod
    def _user(username: str):
        try:
            return get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user {username!r}: create the user first (createsuperuser or the admin).")
