"""URLs of the jobs host site: the site basics, the jobs app, the boards it uses, the rq dashboard."""

from django.urls import include, path

from tests.hosts.urls_base import site_urls

urlpatterns = [
    *site_urls,
    path("jobs/", include("jobs.urls")),
    path("boards/", include("boards.urls")),
    path("admin/rq/", include("django_rq.urls")),  # the jobs page links to the rq dashboard
]
