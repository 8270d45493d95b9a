"""API test fixtures: tokens, an authorised client, fast password hashing."""

from __future__ import annotations

import pytest

from switchboard.tokens import token_create


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


@pytest.fixture
def token(user) -> str:
    return token_create(user=user, name="tests")[1]


@pytest.fixture
def staff_token(staff_user) -> str:
    return token_create(user=staff_user, name="tests")[1]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
