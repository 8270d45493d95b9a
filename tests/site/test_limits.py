"""Shared abuse limits: rate limits in Redis, per-client stream slots, body size, deploy checks."""

import json
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from switchboard.limits import (
    TooManyStreams,
    rate_limit_hit,
    rate_limit_hit_async,
    stream_slot,
    too_many_requests,
)

ROOT = Path(__file__).resolve().parents[2]


def test_rate_limit_allows_up_to_the_limit_then_refuses():
    ident = uuid.uuid4().hex
    results = [rate_limit_hit(scope="test", ident=ident, limit=3, window=60) for _ in range(5)]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert 1 <= results[-1].retry_after <= 60
    other = rate_limit_hit(scope="test", ident=uuid.uuid4().hex, limit=3, window=60)
    assert other.allowed


async def test_rate_limit_async_shares_the_counter():
    ident = uuid.uuid4().hex
    assert rate_limit_hit(scope="t2", ident=ident, limit=1, window=60).allowed
    assert not (await rate_limit_hit_async(scope="t2", ident=ident, limit=1, window=60)).allowed


def test_429_says_what_and_when():
    result = rate_limit_hit(scope="t3", ident=uuid.uuid4().hex, limit=0, window=30)
    response = too_many_requests(result, what="chat messages")
    assert response.status_code == 429
    assert int(response["Retry-After"]) == result.retry_after
    assert "Too many chat messages" in json.loads(response.content)["detail"]


async def test_stream_slots_are_bounded_per_client(settings):
    settings.SWITCHBOARD_MAX_STREAMS_PER_CLIENT = 2
    request = RequestFactory().get("/", REMOTE_ADDR="10.9.8.7")
    request.user = AnonymousUser()
    async with stream_slot(request), stream_slot(request):
        with pytest.raises(TooManyStreams):
            async with stream_slot(request):
                pass
        other = RequestFactory().get("/", REMOTE_ADDR="10.9.8.8")
        other.user = AnonymousUser()
        async with stream_slot(other):
            pass
    async with stream_slot(request):  # released again
        pass


@pytest.mark.django_db
def test_request_body_over_the_limit_is_refused_with_413(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    response = client.post("/accounts/login/", data=b"x" * 4096, content_type="application/octet-stream")
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert client.post("/accounts/login/", {"username": "a", "password": "b"}).status_code == 400


def _check_deploy(**env):
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG", "SECRET_KEY"}}
    base.update(env)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        env=base,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_with_the_documented_production_settings():
    result = _check_deploy(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="switchboard.example.com",
        SECURE_SSL_REDIRECT="1",
        SECURE_HSTS_SECONDS="31536000",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_development_defaults():
    result = _check_deploy()
    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on
