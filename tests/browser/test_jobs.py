"""Jobs: a countdown started from the jobs page moves its progress bar and ends at 100 % with its result."""

import json
import re
import time

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from jobs.models import JobRun

STEPS = 6
DELAY = 0.5  # 3 s in all: the page polls every 0.7 s, so it sees several steps
# The bar's state, read in one go (run.js updates the bar, status and line together).
STATE = """() => ({
  percent: Number(document.querySelector(".progress[role=progressbar]").getAttribute("aria-valuenow")),
  value: document.getElementById("run-bar").value,
  status: document.getElementById("run-status").textContent,
  line: document.getElementById("run-progress").textContent,
})"""


def state_while_moving(page: Page, timeout: float = 10.0) -> dict:
    """The bar's state once it shows a value strictly between 0 and 100.

    Polled rather than awaited with wait_for_function, whose handle dies with the page: run.js
    reloads the page when the run's actions change (queued -> started) and when it ends.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = page.evaluate(STATE)
        except PlaywrightError:  # the page was reloading
            state = None
        if state and 0 < state["percent"] < 100:
            return state
        page.wait_for_timeout(50)
    raise AssertionError(f"the progress bar showed no value between 0 and 100 within {timeout} s")


def test_countdown_started_from_the_jobs_page_moves_its_bar_and_ends_at_100_with_its_result(
    signed_in, user, screenshot
):
    page = signed_in(user)
    page.goto("/jobs/")
    form = page.locator("#job-countdown form")
    form.locator("input[name=countdown-steps]").fill(str(STEPS))
    form.locator("input[name=countdown-delay]").fill(str(DELAY))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/jobs/runs/[^/]+/$"))
    expect(page.locator("h1")).to_contain_text("countdown")
    progress = page.locator(".progress[role=progressbar]")

    # The bar moves: a value strictly between 0 and 100, read at once with the status and "current/total" line.
    moving = state_while_moving(page)
    assert 0 < moving["percent"] < 100
    assert moving["status"] == "started"
    assert re.fullmatch(rf"[1-{STEPS - 1}]/{STEPS} \d to go", moving["line"]), moving
    assert moving["value"] == moving["percent"]

    # It ends at 100 % with the result (the page reloads itself once the run is over).
    expect(page.locator("#run-status")).to_have_text("finished", timeout=20_000)
    expect(progress).to_have_attribute("aria-valuenow", "100")
    assert page.locator("#run-bar").evaluate("bar => bar.value") == 100  # a <progress>: no inline style (CSP)
    expect(page.locator("#run-progress")).to_have_text(f"{STEPS}/{STEPS} 0 to go")
    expect(page.locator("#run-result")).to_have_text(json.dumps({"steps": STEPS}))
    expect(page.locator("#run-attempts")).to_have_text("1")

    run = JobRun.objects.get(job_id=page.url.rstrip("/").rsplit("/", 1)[1])
    assert (run.name, run.status, run.owner) == ("countdown", "finished", user)
    assert (run.arguments, json.loads(run.result)) == ({"steps": STEPS, "delay": DELAY}, {"steps": STEPS})
    screenshot(page, "jobs-run")
    assert not page.problems, page.problems
