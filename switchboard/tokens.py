"""API tokens: create (the secret is returned once), look up by secret, revoke. Only digests are stored."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.utils import timezone

from switchboard.models import ApiToken

__all__ = ["TOKEN_PREFIX", "secret_new", "token_create", "token_digest", "token_fill", "token_revoke", "token_user"]

TOKEN_PREFIX = "sbt_"


def token_digest(secret: str) -> str:
    """The stored form of ``secret``: its SHA-256 in hex (a random 256-bit secret needs no slow hash)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def secret_new() -> str:
    """A fresh random secret (256 bits), with a prefix that tells it is one of ours."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_fill(token: ApiToken) -> str:
    """Give the unsaved ``token`` a new secret's prefix and digest; returns the secret (show it once)."""
    secret = secret_new()
    token.prefix, token.digest = secret[:12], token_digest(secret)
    return secret


def token_create(*, user: Any, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``: (the stored token, its secret). The secret is not stored: show it once."""
    token = ApiToken(user=user, name=name)
    secret = token_fill(token)
    token.save()
    return token, secret


def token_user(*, secret: str) -> Any | None:
    """The active user of the active token ``secret``, or None."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(secret), revoked__isnull=True, user__is_active=True)
        .first()
    )
    return None if token is None else token.user


def token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke ``token``: requests that send it get 401 from now on."""
    if token.revoked is None:
        token.revoked = timezone.now()
        token.save(update_fields=["revoked"])
    return token
