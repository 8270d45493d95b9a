"""The checks for what a host forgets: Redis, the ASGI wrapper, static files under ASGI."""

from django.core.checks import run_checks

from switchboard.checks import check_asgi, check_redis


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_an_app_that_needs_redis_without_redis_url_fails_the_check_with_the_fix(settings):
    del settings.REDIS_URL
    (error,) = check_redis()
    assert error.id == "switchboard.E001"
    assert "chat" in error.msg and "ledger" in error.msg
    assert "REDIS_URL = 'redis://" in error.hint
    assert "switchboard.E001" in ids(run_checks(tags=["switchboard"]))


def test_redis_url_set_passes(settings):
    assert check_redis() == []


def test_the_sites_wrapped_asgi_application_passes():
    assert check_asgi() == []


def test_an_unwrapped_or_missing_asgi_application_is_a_warning_naming_the_cost(settings):
    settings.ASGI_APPLICATION = "tests.switchboard.asgi_plain.application"
    (warning,) = [m for m in check_asgi() if m.id == "switchboard.W001"]
    assert "not wrapped by switchboard.asgi" in warning.msg and "18x slower" in warning.msg
    assert "from switchboard.asgi import get_asgi_application" in warning.hint
    del settings.ASGI_APPLICATION
    assert ids(check_asgi()) == ["switchboard.W001"]


def test_static_files_nobody_serves_under_asgi_are_a_warning(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "whitenoise" not in m]
    settings.SWITCHBOARD_SERVE_STATIC = None
    settings.DEBUG = False
    assert "switchboard.W002" in ids(check_asgi())
    settings.SWITCHBOARD_SERVE_STATIC = False  # the web server serves STATIC_ROOT
    assert check_asgi() == []
