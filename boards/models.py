"""Boards: the list of known boards (their values live in Redis)."""

from django.db import models


class Board(models.Model):
    """A named notice board; its current value and version live in Redis."""

    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("notify_board", "Can post values to boards")]

    def __str__(self) -> str:
        return self.title or self.name
