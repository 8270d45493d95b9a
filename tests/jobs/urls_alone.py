"""URLs for settings_alone: Django's auth views, jobs and the rq dashboard."""

from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),  # login with switchboard's registration/login.html
    path("admin/rq/", include("django_rq.urls")),
    path("jobs/", include("jobs.urls")),
]
