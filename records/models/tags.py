"""Each user's tag registry: the tags they created or use, with an optional colour.

The tags themselves live on the records (TaggedMixin); this table gives a tag an id (the
web app colours tags by id) and keeps tags created before any record carries them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from patients.models import MAX_TAG_LENGTH

__all__ = ["UserTag"]


class UserTag(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tags"
    )
    tag = models.CharField(max_length=MAX_TAG_LENGTH)  # normalised like record tags
    color = models.CharField(
        max_length=7,
        blank=True,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Give a colour as #rrggbb.")],
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tag", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "tag"], name="records_usertag_unique")
        ]

    def __str__(self) -> str:
        return self.tag
