"""URLs of the jobs host site: the site basics, the jobs app and the boards it uses."""

from django.urls import include, path

from tests.hosts.urls_base import site_urls

urlpatterns = [
    *site_urls,
    path("jobs/", include("jobs.urls")),
    path("boards/", include("boards.urls")),
]
