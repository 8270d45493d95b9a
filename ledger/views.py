"""Ledger views: parse input, call a service or selector, render."""

from django.http import HttpRequest, HttpResponse

from switchboard.providers import render_page

INDEX_PAGE: list = []


def index(request: HttpRequest) -> HttpResponse:
    """The ledger landing page."""
    return render_page(request, "ledger/index.html", INDEX_PAGE)
