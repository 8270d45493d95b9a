"""URLs for settings_alone: the site's login and home, jobs and the rq dashboard."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from switchboard import views as site_views

urlpatterns = [
    path("", site_views.home, name="home"),
    path("accounts/login/", site_views.login, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/rq/", include("django_rq.urls")),
    path("jobs/", include("jobs.urls")),
]
