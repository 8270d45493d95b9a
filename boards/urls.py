from django.urls import path

from boards import views

app_name = "boards"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:name>/", views.board_page, name="board"),
    path("<slug:name>/watch", views.watch, name="watch"),
    path("<slug:name>/stream", views.stream, name="stream"),
    path("<slug:name>/notify", views.notify, name="notify"),
]
