from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/", views.room, name="room"),
    path("<slug:slug>/messages", views.messages, name="messages"),
    path("<slug:slug>/stream", views.stream, name="stream"),
    path("<slug:slug>/poll", views.poll, name="poll"),
]
