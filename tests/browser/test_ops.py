"""The operations page, open in a browser while jobs run and money moves: its numbers and plots change
without a reload, through the private ops board it watches."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from config.ops import ops_publish
from jobs.interface import job_enqueue
from ledger.models import Account
from ledger.services import account_create, transfer_create


def metric(page: Page, name: str):
    return page.locator(f'[data-metric="{name}"]')


def plot_points(page: Page, counter: str) -> str:
    # The line and its axis labels: a series whose newest minute is its maximum keeps the same line when that
    # minute grows (the plot is scaled to its maximum), but its max label changes.
    return page.locator(f'figure[data-counter="{counter}"] svg').inner_html()


def test_the_ops_page_follows_transfers_and_jobs_live(signed_in, admin_user_, screenshot):
    page = signed_in(admin_user_)
    page.goto("/ops/")
    expect(page.locator("#ops-status")).to_have_text("live")
    page.evaluate("() => { window.notReloaded = true; }")  # gone if the page reloads
    settled = int(metric(page, "Ledger: settled / min").inner_text())
    settled_plot = plot_points(page, "ledger.settled")

    bank = account_create(name="bank", kind=Account.Kind.SYSTEM)
    alice = account_create(name="alice-ops", owner=admin_user_)
    for _ in range(3):
        transfer_create(source=bank, target=alice, amount=250)
    ops_publish()  # what the site's periodic task does every few seconds
    expect(metric(page, "Ledger: settled / min")).to_have_text(str(settled + 3))
    assert plot_points(page, "ledger.settled") != settled_plot  # the plot moved too

    finished = int(metric(page, "Jobs: finished / min").inner_text())
    for _ in range(2):
        job_enqueue(name="noop", params={})
    page.wait_for_timeout(1500)  # the site's workers run them
    ops_publish()
    expect(metric(page, "Jobs: finished / min")).to_have_text(str(finished + 2), timeout=10_000)
    assert page.evaluate("() => window.notReloaded") is True
    screenshot(page, "ops")
    assert not page.problems, page.problems
