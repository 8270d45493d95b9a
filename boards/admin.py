"""Admin registrations for boards: the records, with their current value and version from Redis."""

from django.contrib import admin

from boards.models import Board
from boards.selectors import BoardState, boards_states
from boards.services import board_delete


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    list_display = ["name", "title", "current_version", "current_value", "created"]
    search_fields = ["name", "title"]
    readonly_fields = ["created", "current_version", "current_value"]

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        self._states = boards_states(names=[board.name for board in changelist.result_list])
        return changelist

    def _state(self, board: Board) -> BoardState:
        states = getattr(self, "_states", {})
        if board.name not in states:
            states = boards_states(names=[board.name])
        return states[board.name]

    @admin.display(description="version")
    def current_version(self, board: Board) -> int:
        return self._state(board).version if board.pk else 0

    @admin.display(description="value")
    def current_value(self, board: Board) -> str:
        state = self._state(board) if board.pk else None
        if state is None or not state.has_value:
            return "(no value yet)"
        text = state.value_json
        return text if len(text) <= 200 else text[:200] + "…"

    def delete_model(self, request, obj: Board) -> None:
        board_delete(board=obj)

    def delete_queryset(self, request, queryset) -> None:
        for board in queryset:
            board_delete(board=board)
