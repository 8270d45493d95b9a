"""boards mounted under another prefix than the site's (for the lean-path tests)."""

from django.urls import include, path

urlpatterns = [path("noticeboards/", include("boards.urls"))]
