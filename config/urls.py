"""Site URLs: each app under its own prefix, auth, the admin and django-rq's dashboard."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from switchboard import views as site_views
from switchboard.health import health_view

urlpatterns = [
    path("", site_views.home, name="home"),
    path("health", health_view, name="health"),
    path("accounts/login/", site_views.login, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("boards/", include("boards.urls")),
    path("chat/", include("chat.urls")),
    path("jobs/", include("jobs.urls")),
    path("ledger/", include("ledger.urls")),
]
