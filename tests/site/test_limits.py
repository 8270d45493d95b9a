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
    BodySizeLimitMiddleware,
    RateResult,
    TooManyStreams,
    body_size_limit,
    rate_limit_hit,
    rate_limit_hit_async,
    stream_slot,
    too_many_requests,
    too_many_streams,
)

ROOT = Path(__file__).resolve().parents[2]

# Every test runs over TCP and over the unix socket (the embedded default of `make run`).
pytestmark = pytest.mark.usefixtures("redis_form")


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
    assert "Too many chat messages" in json.loads(response.content)["message"]


def test_limit_answers_carry_a_code_in_error_and_the_text_in_message_as_the_ledger_does(settings):
    settings.SWITCHBOARD_MAX_STREAMS_PER_CLIENT = 5
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    rate = json.loads(too_many_requests(RateResult(False, 3, 3, 7), what="posts").content)
    assert rate == {
        "error": "rate_limited",
        "message": "Too many posts: at most 3 per window. Try again in 7 s.",
        "retry_after": 7,
    }
    streams = json.loads(too_many_streams().content)
    assert streams == {"error": "too_many_streams", "message": "At most 5 open streams per client: close one first."}
    middleware = BodySizeLimitMiddleware(lambda request: None)
    too_large = middleware(RequestFactory().post("/", data=b"x" * 11, content_type="text/plain"))
    assert (too_large.status_code, json.loads(too_large.content)) == (
        413,
        {"error": "too_large", "message": "Request body is 11 bytes; the limit is 10."},
    )
    not_a_number = middleware(RequestFactory().post("/", CONTENT_LENGTH="ten"))
    assert (not_a_number.status_code, json.loads(not_a_number.content)) == (
        400,
        {"error": "bad_request", "message": "Content-Length is not a number."},
    )


async def test_the_asgi_413_carries_a_code_in_error_and_the_text_in_message(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    sent = []

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        raise AssertionError("the body limit let an oversized body through")

    scope = {"type": "http", "headers": [(b"content-length", b"11")]}
    await body_size_limit(app)(scope, None, send)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {
        "error": "too_large",
        "message": "Request body is 11 bytes; the limit is 10.",
    }


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


def test_rate_limit_window_slides_instead_of_resetting_at_a_boundary(rate_clock):
    ident = uuid.uuid4().hex
    assert rate_limit_hit(scope="slide", ident=ident, limit=2, window=1).allowed
    rate_clock.advance(0.6)
    assert rate_limit_hit(scope="slide", ident=ident, limit=2, window=1).allowed
    refused = rate_limit_hit(scope="slide", ident=ident, limit=2, window=1)
    assert not refused.allowed  # a fixed window could have reset here; a sliding one does not
    assert refused.retry_after == 1  # the first hit leaves the window in 0.4 s
    rate_clock.advance(0.5)  # the first hit has left the window, the second has not
    assert rate_limit_hit(scope="slide", ident=ident, limit=2, window=1).allowed
    assert not rate_limit_hit(scope="slide", ident=ident, limit=2, window=1).allowed
    rate_clock.advance(0.4)  # the hits at 0.6 s and 1.1 s are both still in the window
    assert not rate_limit_hit(scope="slide", ident=ident, limit=2, window=1).allowed
