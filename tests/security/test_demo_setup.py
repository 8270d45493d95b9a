"""Row 9 of issue 13: demo_setup (run by run_site) creates the demo admin only with DEBUG on, or when forced."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.conftest import run_manage

pytestmark = pytest.mark.django_db


def test_with_debug_off_demo_setup_creates_no_admin_and_says_why(settings):
    settings.DEBUG = False
    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    assert not get_user_model().objects.filter(username="admin").exists()
    assert "DEBUG is off" in out.getvalue()


def test_with_debug_on_it_creates_the_demo(settings):
    settings.DEBUG = True
    call_command("demo_setup", stdout=io.StringIO())
    assert get_user_model().objects.get(username="admin").is_superuser


def test_forced_it_creates_the_demo_with_debug_off(settings):
    settings.DEBUG = False
    call_command("demo_setup", "--force", stdout=io.StringIO())
    assert get_user_model().objects.get(username="admin").is_superuser


def test_a_production_process_never_creates_admin_admin(child_env):
    env = {**child_env, "DEBUG": "0", "SECRET_KEY": "x" * 50}
    result = run_manage(env, "demo_setup")
    assert result.returncode == 0, result.stderr
    assert "DEBUG is off" in result.stdout
    assert not get_user_model().objects.filter(username="admin").exists()
