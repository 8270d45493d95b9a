"""Row 11 of issue 13: every page carries a strict Content-Security-Policy, and no page needs 'unsafe-inline':
no inline script bodies, no event-handler attributes, no style attributes or <style> blocks."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from jobs.progress import board_publish

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>\s*\S", re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.I)
STYLE_BLOCK = re.compile(r"<style[\s>]", re.I)


def pages(site) -> list[tuple[str, str]]:
    board_publish(job_id=site.run.job_id, value={"percent": 40, "message": "x"})
    return [
        ("alice", reverse("home")),
        ("", reverse("login")),
        ("alice", reverse("chat:index")),
        ("alice", reverse("chat:room", args=[site.room.slug])),
        ("alice", reverse("boards:index")),
        ("alice", reverse("boards:board", args=[site.board])),
        ("alice", reverse("boards:board", args=[site.run.board_name])),
        ("alice", reverse("jobs:index")),
        ("alice", reverse("jobs:run", args=[site.run.job_id])),
        ("alice", reverse("ledger:index")),
        ("alice", reverse("ledger:account", args=["alice-main"])),
        ("staff", reverse("admin:index")),
        ("staff", reverse("admin:auth_user_changelist")),
        ("staff", reverse("admin:ledger_transfer_changelist")),
        ("", reverse("admin:login")),
    ]


def test_every_page_has_a_strict_csp_and_nothing_inline(client, site):
    site.staff.is_superuser = True  # the admin's change lists
    site.staff.save()
    for who, url in pages(site):
        client.logout()
        if who:
            client.force_login(getattr(site, who))
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response.headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in policy, url
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, url
        assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy, url
        html = response.content.decode()
        for pattern in (INLINE_SCRIPT, EVENT_HANDLER, STYLE_BLOCK, STYLE_ATTRIBUTE):
            assert not pattern.search(html), (url, pattern.search(html))


def test_json_apis_carry_the_policy_too(client, site):
    client.force_login(site.alice)
    response = client.get(reverse("jobs:run_json", args=[site.run.job_id]))
    assert "default-src 'self'" in response.headers.get("Content-Security-Policy", "")


def test_only_django_rqs_dashboard_gets_unsafe_inline_for_its_own_templates(client, site):
    site.staff.is_superuser = True
    site.staff.save()
    client.force_login(site.staff)
    dashboard = client.get("/admin/rq/")
    assert dashboard.status_code == 200
    assert "'unsafe-inline'" in dashboard.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in client.get("/admin/").headers["Content-Security-Policy"]
