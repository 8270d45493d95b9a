"""URLs of the boards host site: the site basics and the boards app."""

from django.urls import include, path

from tests.hosts.urls_base import site_urls

urlpatterns = [
    *site_urls,
    path("boards/", include("boards.urls")),
]
