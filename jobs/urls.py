from django.urls import path

from jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.index, name="index"),
    path("runs/<slug:job_id>.json", views.run_json, name="run_json"),
    path("runs/<slug:job_id>/", views.run_page, name="run"),
    path("runs/<slug:job_id>/cancel", views.run_action, {"action": "cancel"}, name="cancel"),
    path("runs/<slug:job_id>/stop", views.run_action, {"action": "stop"}, name="stop"),
    path("runs/<slug:job_id>/requeue", views.run_action, {"action": "requeue"}, name="requeue"),
    path("<slug:name>/enqueue", views.enqueue, name="enqueue"),
]
