"""Chat models: rooms and their messages, numbered per room in commit order."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Room(models.Model):
    """A chat room; ``last_seq`` is the sequence number of its newest message (0 when empty)."""

    slug = models.SlugField(max_length=50, unique=True)
    title = models.CharField(max_length=200)
    created = models.DateTimeField(default=timezone.now)
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.title or self.slug


class Message(models.Model):
    """One message; ``seq`` is gap-free per room (1, 2, 3, ...) and assigned in commit order."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveBigIntegerField(editable=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="chat_messages"
    )
    text = models.TextField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="chat_message_room_seq_unique"),
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="chat_message_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.room.slug}#{self.seq}"
