"""The built-in jobs: the functions a worker runs, and their JobSpec entries.

``RUNS_PRUNE`` is the jobs app's own (staff only, periodic). The demo jobs (countdown, fail, slow, flaky,
noop) show progress, failures, timeouts and retries; a site offers them only with JOBS_DEMO_JOBS = True
(jobs.catalog.DEMO_CATALOG).
"""

from __future__ import annotations

import time
from typing import Any

from django import forms
from rq import get_current_job

from jobs import push, services
from jobs.catalog import SYSTEM_QUEUE, JobSpec
from jobs.conf import setting
from jobs.progress import job_progress


# -- job functions (run in a worker; keyword arguments only, JSON-serialisable) --------------------
def countdown(*, steps: int = 10, delay: float = 0.5) -> dict[str, int]:
    """Count down ``steps`` times, ``delay`` seconds apart, reporting progress after each step."""
    job_progress(current=0, total=steps, message="starting")
    for done in range(1, steps + 1):
        time.sleep(delay)
        job_progress(current=done, total=steps, message=f"{steps - done} to go")
    return {"steps": steps}


def fail(*, message: str = "This job always fails.") -> None:
    """Raise an error, so that failure handling can be seen."""
    raise RuntimeError(message)


def slow(*, seconds: float = 10.0) -> str:
    """Sleep ``seconds``: longer than its catalog timeout, so rq ends it."""
    time.sleep(seconds)
    return f"slept {seconds}s"


def flaky(*, failures: int = 2) -> str:
    """Fail the first ``failures`` attempts, then succeed (retry with backoff demo)."""
    job = get_current_job()
    attempt = int(job.meta.get("flaky_attempt", 0)) + 1 if job else 1
    if job:
        job.meta["flaky_attempt"] = attempt
        job.save_meta()
    if attempt <= failures:
        raise RuntimeError(f"flaky: attempt {attempt} fails on purpose ({failures} failures asked)")
    return f"succeeded on attempt {attempt}"


def noop() -> None:
    """Do nothing (benchmarks)."""


def runs_prune(*, days: int | None = None) -> int:
    """Delete finished, failed, stopped and canceled runs older than ``days`` (JOBS_HISTORY_DAYS)."""
    return services.runs_prune(older_than_days=days if days is not None else setting("JOBS_HISTORY_DAYS"))


def runs_reconcile() -> int:
    """Push again the runs queued in the database that rq lost (periodic; see jobs.push.runs_reconcile)."""
    return len(push.runs_reconcile())


# -- parameter forms -------------------------------------------------------------------------------
COUNTDOWN_MAX_SECONDS = 120  # steps x delay; well under the countdown's timeout, so a run ends within its spec


class CountdownForm(forms.Form):
    steps = forms.IntegerField(min_value=1, max_value=600, initial=10)
    delay = forms.FloatField(min_value=0.0, max_value=10.0, initial=0.5, help_text="seconds between steps")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        steps, delay = cleaned.get("steps"), cleaned.get("delay")
        if steps is not None and delay is not None and steps * delay > COUNTDOWN_MAX_SECONDS:
            raise forms.ValidationError(
                f"steps x delay is {steps * delay:g} seconds; a countdown may last at most {COUNTDOWN_MAX_SECONDS} "
                "seconds: fewer steps or a shorter delay."
            )
        return cleaned


class FailForm(forms.Form):
    message = forms.CharField(max_length=200, initial="This job always fails.")


class SlowForm(forms.Form):
    seconds = forms.FloatField(min_value=0.0, max_value=600.0, initial=10.0)


class FlakyForm(forms.Form):
    failures = forms.IntegerField(min_value=0, max_value=3, initial=2)


class PruneForm(forms.Form):
    days = forms.IntegerField(min_value=0, max_value=3650, required=False, help_text="default JOBS_HISTORY_DAYS")


# -- catalog entries -----------------------------------------------------------------------------------
COUNTDOWN = JobSpec(
    name="countdown",
    func="jobs.builtin.countdown",
    description="Counts down, reporting progress on a live bar. Retried once if its worker dies.",
    form=CountdownForm,
    timeout=COUNTDOWN_MAX_SECONDS + 60,
    extra={"max_seconds": COUNTDOWN_MAX_SECONDS},
    retries=1,
)
FAIL = JobSpec(
    name="fail",
    func="jobs.builtin.fail",
    description="Always raises an error: the traceback is kept in the run's history.",
    form=FailForm,
    timeout=30,
)
SLOW = JobSpec(
    name="slow",
    func="jobs.builtin.slow",
    description="Sleeps longer than its 2-second timeout, so rq stops it.",
    form=SlowForm,
    timeout=2,
)
FLAKY = JobSpec(
    name="flaky",
    func="jobs.builtin.flaky",
    description="Fails its first attempts, then succeeds: retries with backoff (1 s, 2 s, 4 s).",
    form=FlakyForm,
    timeout=30,
    retries=3,
    retry_intervals=(1, 2, 4),
)
NOOP = JobSpec(name="noop", func="jobs.builtin.noop", description="Does nothing; used by the benchmark.", queue="high")
RUNS_PRUNE = JobSpec(
    name="runs_prune",
    func="jobs.builtin.runs_prune",
    description="Deletes old finished runs from the history (periodic: hourly).",
    form=PruneForm,
    queue=SYSTEM_QUEUE,
    timeout=300,
    staff_only=True,
)
