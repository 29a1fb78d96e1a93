"""A user's saved report templates. Per user: another user's template does not exist for you.

Names are unique per user; a deleted template is gone, so its name is free at once (the
reference keeps deleted rows and then refuses the name: inventory §10 #34). The selections are
stored as JSON values, never as JSON text inside JSON.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from medikeep.api.exceptions import ConflictError
from records.models.reports import ReportTemplate

TEMPLATE_FIELDS = (
    "name",
    "description",
    "is_public",
    "shared_with_family",
    "selected_records",
    "trend_charts",
    "report_settings",
)


def _name_taken(name: str) -> ConflictError:
    return ConflictError(f"You already have a report template named {name!r}.")


def template_create(*, user, data: dict) -> ReportTemplate:
    if ReportTemplate.objects.filter(user=user, name=data["name"]).exists():
        raise _name_taken(data["name"])
    try:
        with transaction.atomic():
            return ReportTemplate.objects.create(user=user, **data)
    except IntegrityError as exc:  # saved by a parallel request since the check
        raise _name_taken(data["name"]) from exc


def template_update(*, template: ReportTemplate, data: dict) -> ReportTemplate:
    name = data.get("name", template.name)
    if (
        ReportTemplate.objects.filter(user_id=template.user_id, name=name)
        .exclude(pk=template.pk)
        .exists()
    ):
        raise _name_taken(name)
    for field, value in data.items():
        setattr(template, field, value)
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError as exc:
        raise _name_taken(name) from exc
    return template


def template_delete(*, template: ReportTemplate) -> None:
    template.delete()
