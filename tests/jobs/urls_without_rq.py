"""The jobs app's URLs without django_rq's (for the checks' tests)."""

from django.urls import include, path

urlpatterns = [path("jobs/", include("jobs.urls"))]
