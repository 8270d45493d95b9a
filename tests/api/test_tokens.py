"""API tokens from the management command and the admin: the secret shown once, revocation, bad input."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from switchboard.models import ApiToken
from switchboard.tokens import token_create, token_digest
from tests.api.conftest import bearer


def command(*args: str) -> str:
    out = io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_command_creates_a_working_token_lists_it_and_revokes_it(db, user):
    secret = command("create", "alice", "--name", "backup script").strip()
    token = ApiToken.objects.get()
    assert token.digest == token_digest(secret) and token.name == "backup script" and token.user == user
    assert Client().get("/api/ledger/accounts", headers=bearer(secret)).status_code == 200
    assert f"{token.prefix}  alice  backup script" in command("list", "alice") and "active" in command("list")
    assert "Revoked" in command("revoke", token.prefix)
    assert Client().get("/api/ledger/accounts", headers=bearer(secret)).status_code == 401
    assert "revoked" in command("list")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "nobody"), "No user 'nobody'"),
        (("create", "alice", "--name", " "), "--name must be 1 to 100 characters"),
        (("revoke", "sbt_"), "give at least 6 characters"),
        (("revoke", "sbt_zzzzzzzz"), "no token starts with"),
        (("list", "nobody"), "No user 'nobody'"),
    ],
)
def test_the_command_refuses_bad_input_with_a_message_saying_what_to_do(db, user, args, message):
    with pytest.raises(CommandError, match=message):
        command(*args)


def test_the_command_refuses_a_token_for_an_inactive_user(db, user):
    user.is_active = False
    user.save()
    with pytest.raises(CommandError, match="inactive"):
        command("create", "alice")


def test_the_admin_shows_a_new_tokens_secret_once_and_revokes_tokens(db, admin_user_, user):
    admin = Client()
    admin.force_login(admin_user_)
    page = admin.post("/admin/switchboard/apitoken/add/", {"user": user.pk, "name": "from the admin"}, follow=True)
    (message,) = [str(m) for m in page.context["messages"] if "secret is" in str(m)]
    secret = message.split("secret is ")[1].split(" ")[0]
    token = ApiToken.objects.get(name="from the admin")
    assert (
        token.digest == token_digest(secret)
        and secret not in admin.get(f"/admin/switchboard/apitoken/{token.pk}/change/").content.decode()
    )
    assert Client().get("/api/ledger/accounts", headers=bearer(secret)).status_code == 200
    other, _ = token_create(user=user, name="second")
    admin.post("/admin/switchboard/apitoken/", {"action": "revoke", "_selected_action": [token.pk, other.pk]})
    assert ApiToken.objects.filter(revoked__isnull=True).count() == 0
    assert Client().get("/api/ledger/accounts", headers=bearer(secret)).status_code == 401
