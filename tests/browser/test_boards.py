"""Boards: a board page follows a series of notifies (through boards.interface) and shows the last one;
a plain JSON value renders as JSON text; markup in a value renders inert, live and server-rendered; a refused
notify shows the server's sentence, from boards' own errors and from the shared limits alike."""

import json

from playwright.sync_api import Page, expect

from boards.interface import board_create, board_get, board_notify

NAME = "browser-import"
XSS = '<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>'


def shows_version(page: Page, version: int) -> None:
    expect(page.locator("#board-version")).to_have_text(str(version))


def assert_inert(page: Page) -> None:
    """The payload is text on the page: no element or script of it exists or ran."""
    assert page.locator("#board-value img, #board-value script").count() == 0
    assert page.evaluate("window.__xss") is None


def test_board_page_follows_a_series_of_notifies_and_shows_the_last(signed_in, user, screenshot):
    board_create(name=NAME, title="Nightly import", description="Progress of the nightly import.")
    first = board_notify(name=NAME, value={"percent": 0, "message": "queued"})
    page = signed_in(user)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"/boards/{NAME}/")
    expect(page.locator("h1")).to_have_text("Nightly import")
    expect(page.locator("#board-status")).to_have_text("live")
    shows_version(page, first)
    expect(page.locator("#board-value .board-message")).to_have_text("0% queued")

    # One notify, followed live.
    version = board_notify(name=NAME, value={"percent": 10, "message": "reading"})
    shows_version(page, version)
    expect(page.locator("#board-value .progress")).to_have_attribute("aria-valuenow", "10")

    # A burst: the page may skip some (a watcher gets the newest), but it ends on the last one.
    for step in range(1, 6):
        version = board_notify(name=NAME, value={"percent": step * 20, "message": f"copied {step} of 5"})
    assert board_get(name=NAME) == (version, {"percent": 100, "message": "copied 5 of 5"})
    shows_version(page, version)
    bar = page.locator("#board-value .progress[role=progressbar]")
    expect(bar).to_have_attribute("aria-valuenow", "100")
    assert bar.evaluate("bar => bar.value") == 100  # a <progress> element: no inline style (CSP)
    expect(page.locator("#board-value .board-message")).to_have_text("100% copied 5 of 5")
    screenshot(page, "boards-board")

    # A value without "percent" is shown as its JSON text.
    plain = {"rows": 1200, "tables": ["users", "orders"], "ok": True, "note": None}
    version = board_notify(name=NAME, value=plain)
    shows_version(page, version)
    expect(page.locator("#board-value .progress")).to_have_count(0)
    assert json.loads(page.locator("#board-value pre.board-json").inner_text()) == plain

    # Markup in a message and in a plain value is shown as text, live...
    version = board_notify(name=NAME, value={"percent": 50, "message": XSS})
    shows_version(page, version)
    expect(page.locator("#board-value .board-message")).to_have_text(f"50% {XSS}")
    assert_inert(page)
    version = board_notify(name=NAME, value={"html": XSS})
    shows_version(page, version)
    assert json.loads(page.locator("#board-value pre.board-json").inner_text()) == {"html": XSS}
    assert_inert(page)
    # ...and when the page renders it on the server.
    board_notify(name=NAME, value={"percent": 75, "message": XSS})
    page.reload()
    expect(page.locator("#board-value .board-message")).to_have_text(f"75% {XSS}")
    expect(page.locator("#board-status")).to_have_text("live")
    assert_inert(page)
    assert dialogs == []
    assert not page.problems, page.problems


def test_a_refused_notify_shows_the_servers_sentence_whichever_error_shape(signed_in, staff_user):
    board_create(name="browser-refused", title="Refused notifies")
    page = signed_in(staff_user)
    page.goto("/boards/browser-refused/")
    result = page.locator("#board-notify-result")

    def notify(value: str) -> None:
        page.locator("#board-notify textarea[name=value]").fill(value)
        page.locator("#board-notify button[type=submit]").click()

    notify('{"percent": 10}')
    expect(result).to_have_text("posted version 1")
    # Over BOARDS_MAX_VALUE_BYTES: boards' own {"error": "<sentence>"}.
    notify(json.dumps({"note": "x" * 20_000}))
    expect(result).to_contain_text("the limit is 16384 (BOARDS_MAX_VALUE_BYTES)")
    # Over DATA_UPLOAD_MAX_MEMORY_SIZE: the shared limits' {"error": "too_large", "message": "<sentence>"}.
    notify(json.dumps({"note": "x" * 300_000}))
    expect(result).to_contain_text("the limit is 262144.")
    assert board_get(name="browser-refused") == (1, {"percent": 10})
    assert not page.problems.besides(413), page.problems
