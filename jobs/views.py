"""Jobs views: parse input, call a service or selector, render."""

from django.http import HttpRequest, HttpResponse

from switchboard.providers import render_page

INDEX_PAGE: list = []


def index(request: HttpRequest) -> HttpResponse:
    """The jobs landing page."""
    return render_page(request, "jobs/index.html", INDEX_PAGE)
