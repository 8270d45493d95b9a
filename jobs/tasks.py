"""Django Tasks (django.tasks) defined by the jobs app: a small demo used by the tests and the benchmark."""

from django.tasks import task


@task
def add_numbers(a: int, b: int) -> int:
    """Return a + b (Tasks API demo)."""
    return a + b


@task
def tasks_noop() -> None:
    """Do nothing (benchmark of the Tasks API path)."""
