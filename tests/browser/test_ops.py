"""The operations page, open in a browser while jobs run and money moves: its numbers and plots change
without a reload, through the private ops board it watches."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from config.ops import ops_publish
from jobs.interface import job_enqueue, run_get
from jobs.metrics import FINISHED
from jobs.models import RunStatus
from ledger.metrics import SETTLED
from ledger.models import Account
from ledger.services import account_create, transfer_create
from switchboard.metrics import counter_series


def metric(page: Page, name: str):
    return page.locator(f'[data-metric="{name}"]')


def plot_points(page: Page, counter: str) -> str:
    # The line and its axis labels: a series whose newest minute is its maximum keeps the same line when that
    # minute grows (the plot is scaled to its maximum), but its max label changes.
    return page.locator(f'figure[data-counter="{counter}"] svg').inner_html()


def counted_in_one_minute(counter: str, action) -> int:
    """Run ``action`` then publish, inside one minute; the counter's value for that minute before the action.

    The page's rates are this minute's counts: they start again at each minute, and the site's own periodic
    jobs add to them. Within one minute other work only adds, so the page must show at least before + ours.
    """
    for _attempt in range(3):
        if 60 - time.time() % 60 < 25:
            time.sleep(60 - time.time() % 60 + 0.2)
        minute = int(time.time() // 60)
        before = counter_series([counter], minutes=1)[counter][-1]
        action()
        ops_publish()  # what the site's periodic task does every few seconds
        if int(time.time() // 60) == minute:
            return before
    raise AssertionError("three attempts crossed a minute boundary")


def expect_at_least(page: Page, name: str, least: int) -> None:
    shown = metric(page, name)
    deadline = time.monotonic() + 10
    while int(shown.inner_text()) < least:
        assert time.monotonic() < deadline, f"{name}: the page shows {shown.inner_text()}, expected >= {least}"
        page.wait_for_timeout(100)


def test_the_ops_page_follows_transfers_and_jobs_live(signed_in, admin_user_, screenshot):
    page = signed_in(admin_user_)
    page.goto("/ops/")
    expect(page.locator("#ops-status")).to_have_text("live")
    page.evaluate("() => { window.notReloaded = true; }")  # gone if the page reloads
    settled_plot = plot_points(page, "ledger.settled")

    bank = account_create(name="bank", kind=Account.Kind.SYSTEM)
    alice = account_create(name="alice-ops", owner=admin_user_)

    def transfers():
        for _ in range(3):
            transfer_create(source=bank, target=alice, amount=250)

    settled = counted_in_one_minute(SETTLED, transfers)
    expect_at_least(page, "Ledger: settled / min", settled + 3)
    deadline = time.monotonic() + 10  # the plot moves too (the page redraws it after the numbers)
    while plot_points(page, "ledger.settled") == settled_plot:
        assert time.monotonic() < deadline, "the settled plot did not move"
        page.wait_for_timeout(100)

    def noop_jobs():
        runs = [job_enqueue(name="noop", params={}).job_id for _ in range(2)]
        deadline = time.monotonic() + 20
        while not all((r := run_get(job_id=j)) is not None and r.status == RunStatus.FINISHED for j in runs):
            assert time.monotonic() < deadline, "the site's workers did not run the noop jobs"
            time.sleep(0.1)

    finished = counted_in_one_minute(FINISHED, noop_jobs)
    expect_at_least(page, "Jobs: finished / min", finished + 2)
    assert page.evaluate("() => window.notReloaded") is True
    screenshot(page, "ops")
    assert not page.problems, page.problems
