from django.urls import path

from boards import views

app_name = "boards"

urlpatterns = [
    path("", views.index, name="index"),
]
