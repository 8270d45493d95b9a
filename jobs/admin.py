"""Admin registrations for jobs: the run history, with the rq dashboard linked."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from jobs.models import JobRun


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["job_id", "name", "status", "queue", "attempts", "owner", "enqueued_at", "ended_at", "page"]
    list_filter = ["status", "name", "queue"]
    search_fields = ["job_id", "name", "error"]
    date_hierarchy = "enqueued_at"
    readonly_fields = [f.name for f in JobRun._meta.fields] + ["rq_dashboard"]
    list_select_related = ["owner"]

    @admin.display(description="page")
    def page(self, obj: JobRun) -> str:
        return format_html('<a href="{}">view</a>', reverse("jobs:run", args=[obj.job_id]))

    @admin.display(description="rq dashboard")
    def rq_dashboard(self, obj: JobRun) -> str:
        return format_html('<a href="{}">queues, workers and registries</a>', reverse("django_rq:home"))

    def has_add_permission(self, request) -> bool:
        return False
