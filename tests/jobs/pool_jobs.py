"""Test-only job functions for the pool tests: jobs that block where rq's SIGALRM cannot reach, or end
their own process. Worker processes import them by dotted path (the suite puts the repo on PYTHONPATH)."""

from __future__ import annotations

import ctypes
import os
import signal
import time

_held: list[bytearray] = []


def blocked_in_c(*, seconds: int = 30) -> str:
    """Sleep in libc with SIGALRM blocked, as native code that masks signals does: rq's timeout cannot fire."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    ctypes.CDLL(None).sleep(seconds)
    return "woke up"


def select_in_c(*, seconds: int = 30) -> str:
    """Wait in libc's select() with SIGALRM blocked."""

    class Timeval(ctypes.Structure):
        _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    ctypes.CDLL(None).select(0, None, None, None, ctypes.byref(Timeval(seconds, 0)))
    return "woke up"


def exit_now(*, code: int = 1) -> None:
    """End the work process at once, without any cleanup."""
    os._exit(code)


def hold_memory(*, megabytes: int = 100) -> int:
    """Allocate ``megabytes`` and keep them for the life of the process (a leak)."""
    _held.append(bytearray(b"\x01") * (megabytes * 2**20))  # written, so resident
    return len(_held)


def slow_first_attempt(*, marker: str, seconds: int = 60) -> str:
    """The first attempt creates ``marker`` and sleeps ``seconds`` (long enough to be killed mid-job however
    loaded the machine is); any later attempt returns at once."""
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        time.sleep(seconds)
        return "first attempt"
    return "later attempt"


def whoami() -> int:
    """The pid of the process that runs the job."""
    return os.getpid()


def count(*, name: str, at: float) -> None:
    """Count one event of ``name`` for the operations page, as app code in a job does (switchboard.metrics)."""
    from switchboard.metrics import counter_add

    counter_add(name, at=at)
