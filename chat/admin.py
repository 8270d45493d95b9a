"""Admin registrations for chat: rooms; messages searchable and filterable by room, seq read-only."""

from django.contrib import admin

from chat.models import Message, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "last_seq", "created"]
    search_fields = ["slug", "title"]
    readonly_fields = ["last_seq", "created"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["room", "seq", "author", "short_text", "created"]
    list_filter = ["room"]
    search_fields = ["text", "author__username", "room__slug"]
    list_select_related = ["room", "author"]
    readonly_fields = ["room", "seq", "author", "created"]
    ordering = ["room", "-seq"]

    @admin.display(description="text")
    def short_text(self, obj: Message) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:79] + "…"

    def has_add_permission(self, request) -> bool:
        # Messages get their seq from message_post (the room page, the API, chat_post), not a form.
        return False
