"""URLs for settings_alone: the site's own pages and the boards app, nothing else."""

from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),  # login with switchboard's registration/login.html
    path("boards/", include("boards.urls")),
]
