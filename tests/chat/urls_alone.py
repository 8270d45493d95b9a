"""URLs for settings_alone: Django's auth views, and chat."""

from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),  # login with switchboard's registration/login.html
    path("chat/", include("chat.urls")),
]
