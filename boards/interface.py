"""The boards app's public interface for sibling apps (jobs' progress bars use it)."""

from boards.services import BoardError, ValueTooLarge, board_notify

__all__ = ["BoardError", "ValueTooLarge", "board_notify"]
