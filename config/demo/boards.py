"""Demo data for boards: a progress board with a value (idempotent)."""

from boards.selectors import board_state
from boards.services import board_create, board_notify

DEMO_BOARD = "demo-progress"


def demo_load(*, admin) -> str:
    """Create the demo board and give it a value unless it already has one."""
    board_create(
        name=DEMO_BOARD, title="Demo progress", description="Post to it: manage.py board_notify demo-progress ..."
    )
    if not board_state(name=DEMO_BOARD).has_value:
        board_notify(name=DEMO_BOARD, value={"percent": 40, "message": "copying"})
    state = board_state(name=DEMO_BOARD)
    return f"board {DEMO_BOARD!r} at version {state.version}"
