"""The API's docs page works offline: with every request off this site refused, Swagger UI lists the operations."""

from playwright.sync_api import expect


def test_the_api_docs_page_renders_every_operation_with_no_request_leaving_the_site(page, live_site):
    outside: list[str] = []

    def only_this_site(route) -> None:
        if route.request.url.startswith(live_site.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_site)
    page.goto("/api/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock")).to_have_count(20)
    expect(page.locator(".opblock-summary-path", has_text="/api/ledger/transfers").first).to_be_visible()
    assert outside == []
    assert not page.problems, page.problems
