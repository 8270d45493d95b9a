"""Jobs models: the durable history of every job run (it outlives rq's result TTLs)."""

from django.conf import settings
from django.db import models

from jobs.conf import setting


class RunStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    SCHEDULED = "scheduled", "scheduled"
    STARTED = "started", "started"
    RETRYING = "retrying", "retrying"
    FINISHED = "finished", "finished"
    FAILED = "failed", "failed"
    STOPPED = "stopped", "stopped"
    CANCELED = "canceled", "canceled"


TERMINAL = {RunStatus.FINISHED, RunStatus.FAILED, RunStatus.STOPPED, RunStatus.CANCELED}


class JobRun(models.Model):
    """One rq job, from enqueue to its last attempt; updated by worker hooks and rq callbacks."""

    job_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=100, db_index=True)
    arguments = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=50)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="job_runs"
    )
    enqueued_at = models.DateTimeField(null=True, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # One entry per attempt, oldest first: n, x (rq execution id), worker, started_at, ended_at, status,
    # error (its last line) and, for a failed attempt, the end of its traceback.
    attempt_log = models.JSONField(default=list, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    result = models.TextField(blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    timeout = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "-id"])]

    def __str__(self) -> str:
        return f"{self.name} {self.job_id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def board_name(self) -> str:
        return f"{setting('JOBS_BOARD_PREFIX')}{self.job_id}"
