"""A console log format for a terminal: INFO lines as they are, problems with their level and logger named."""

from __future__ import annotations

import logging


class ProblemFormatter(logging.Formatter):
    """``message`` for records below WARNING; ``LEVEL logger: message`` (and the traceback) from WARNING up.

    So a healthy start reads as one plain line per step, and a problem is easy to grep (``ERROR``).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("%(message)s")
        self._problem = logging.Formatter("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return (self._problem if record.levelno >= logging.WARNING else super()).format(record)
