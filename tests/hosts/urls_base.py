"""URLs every host site has: the names switchboard/base.html links to (home, login, logout) and the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import TemplateView

site_urls = [
    path("", TemplateView.as_view(template_name="switchboard/base.html"), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="admin/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
