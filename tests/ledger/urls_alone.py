"""URLs for settings_alone: the site's home and login, and ledger."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from switchboard import views as site_views

urlpatterns = [
    path("", site_views.home, name="home"),
    path("accounts/login/", site_views.login, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("ledger/", include("ledger.urls")),
]
