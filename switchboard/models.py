"""API tokens: a user's secrets for scripts, stored as digests (the secret itself is shown once, at creation)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A per-user API token: ``Authorization: Bearer <secret>`` acts as ``user`` until ``revoked`` is set."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for (a script, a service).")
    prefix = models.CharField(
        max_length=12, editable=False, help_text="The secret's first characters, to tell tokens apart."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False, help_text="SHA-256 of the secret (hex).")
    created = models.DateTimeField(auto_now_add=True)
    revoked = models.DateTimeField(null=True, blank=True, help_text="Set to revoke: the token stops working at once.")

    class Meta:
        verbose_name = "API token"
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name}, {self.user})"
