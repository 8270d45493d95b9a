"""URLs for settings_alone: the site's home and login, and ledger."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),  # login with switchboard's registration/login.html
    path("admin/", admin.site.urls),
    path("ledger/", include("ledger.urls")),
]
