"""The jobs app's public interface for sibling apps and host sites.

- ``board_readable(user, board) -> bool``: the read permission of the private progress boards jobs publish
  (``job-<id>``): the run's owner and staff; other private boards: staff. Wire it in as the boards app's
  ``BOARDS_READ_PERMISSION = "jobs.interface.board_readable"``.
"""

from __future__ import annotations

from typing import Any

from jobs.conf import setting
from jobs.history import history_sync
from jobs.selectors import run_get, run_visible_to

__all__ = ["board_readable"]


def board_readable(user: Any, board: str) -> bool:
    """May ``user`` read board ``board``? A run's board: whoever may see the run; any other: staff."""
    if user is None or not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    prefix = setting("JOBS_BOARD_PREFIX")
    if not board.startswith(prefix):
        return False
    job_id = board[len(prefix) :]
    run = run_get(job_id=job_id)
    if run is None and history_sync():  # the run's row may still be an event waiting in Redis
        run = run_get(job_id=job_id)
    return run is not None and run_visible_to(run=run, user=user)
