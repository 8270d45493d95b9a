"""URLs of the chat host site: the site basics and the chat app."""

from django.urls import include, path

from tests.hosts.urls_base import site_urls

urlpatterns = [
    *site_urls,
    path("chat/", include("chat.urls")),
]
