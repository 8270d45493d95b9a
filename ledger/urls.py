from django.urls import path

from ledger import views

app_name = "ledger"

urlpatterns = [
    path("", views.index, name="index"),
    path("accounts/<str:name>/", views.account_detail, name="account"),
    path("transfers", views.transfer_post, name="transfers"),
]
