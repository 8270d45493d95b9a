"""URLs of the ledger host site: the site basics and the ledger app."""

from django.urls import include, path

from tests.hosts.urls_base import site_urls

urlpatterns = [
    *site_urls,
    path("ledger/", include("ledger.urls")),
]
