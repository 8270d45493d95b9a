"""Stopping the benchmarks' and the soak's child processes, each started in a session (a process group) of its own."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_process_groups(procs: list[subprocess.Popen], *, timeout: float) -> None:
    """SIGTERM the group of each process still running, then wait up to ``timeout`` s for each; SIGKILL its group after.

    Each must have been started with ``start_new_session=True``: the group takes the children it forked with it.
    """
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
