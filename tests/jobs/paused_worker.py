"""A jobs_worker that freezes itself (SIGSTOP) at an exact step of recording a job, for a test to SIGKILL it there.

python -m tests.jobs.paused_worker STEPS_FILE PAUSE_AT [jobs_worker arguments ...]

A *step* is one side of a Redis round trip that records a job: a transaction or a single command that pushes
a run history event (jobs.history) or sets a job's rq status. Before and after each such round trip, this
process appends ``<n> <before|after> <what it sends>`` to STEPS_FILE; at step PAUSE_AT (``all``: at every
step, ``none``: never) it stops itself, so the test finds it frozen at exactly that step (the next step is
not written until it is continued). Only this process pauses: the history flusher it forks does not.

JOBS_INTERMEDIATE_GRACE is 1 s here, so a recovering worker puts a job left in rq's intermediate list back
on its queue within a few seconds.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import django
import redis
from redis.client import Pipeline


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _records_a_job(args: tuple[Any, ...], history: str) -> bool:
    name = _text(args[0]).upper()
    if name == "RPUSH" and _text(args[1]) == history:
        return True
    return name == "HSET" and _text(args[1]).startswith("rq:job:") and "status" in map(_text, args[2::2])


class Steps:
    def __init__(self, path: str, pause_at: str, history: str) -> None:
        self.path, self.pause_at, self.history, self.count, self.pid = path, pause_at, history, 0, os.getpid()

    def mark(self, side: str, what: str) -> None:
        with open(self.path, "a") as fh:
            fh.write(f"{self.count} {side} {what}\n")
        pause = self.pause_at == "all" or self.pause_at == str(self.count)
        self.count += 1
        if pause:
            os.kill(os.getpid(), signal.SIGSTOP)

    def around(self, commands: list[tuple[Any, ...]], send: Any) -> Any:
        if os.getpid() != self.pid or not any(_records_a_job(args, self.history) for args in commands):
            return send()
        what = " ".join(_text(args[0]).upper() for args in commands)
        self.mark("before", what)
        result = send()
        self.mark("after", what)
        return result


def install(steps: Steps) -> None:
    execute_command, execute = redis.Redis.execute_command, Pipeline.execute

    def single(self: redis.Redis, *args: Any, **options: Any) -> Any:
        return steps.around([args], lambda: execute_command(self, *args, **options))

    def transaction(self: Pipeline, raise_on_error: bool = True) -> Any:
        commands = [args for args, _ in self.command_stack]
        return steps.around(commands, lambda: execute(self, raise_on_error))

    redis.Redis.execute_command = single  # type: ignore[method-assign]
    Pipeline.execute = transaction  # type: ignore[method-assign]


def main() -> None:
    steps_file, pause_at, *arguments = sys.argv[1:]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    # After django.setup(): these load the apps' models.
    from django.core.management import call_command
    from django.test.utils import override_settings

    from jobs.history import history_key

    override_settings(JOBS_INTERMEDIATE_GRACE=1).enable()
    install(Steps(steps_file, pause_at, history_key()))
    call_command("jobs_worker", *arguments)


if __name__ == "__main__":
    main()
