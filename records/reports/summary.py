"""The report builder's data summary: per category, the count and the newest records.

Two queries per category whatever the number of records (a count, and the first rows with
their practitioner), so the answer's cost is fixed by the registry, not by the data.
"""

from __future__ import annotations

from django.db.models import F

from records.reports.categories import (
    SUMMARY_KEY_INFO_CHARS,
    categories,
    details,
    practitioner_name,
    record_date,
    record_status,
    record_title,
    with_practitioner,
)

SUMMARY_RECORDS = 100


def newest_first(queryset, date_field: str | None):
    if date_field:
        return queryset.order_by(F(date_field).desc(nulls_last=True), "-id")
    return queryset.order_by("-id")


def record_summary(record, date_field: str | None) -> dict:
    day = record_date(record, date_field)
    key_info = details(record, limit=3)
    if len(key_info) > SUMMARY_KEY_INFO_CHARS:
        key_info = key_info[: SUMMARY_KEY_INFO_CHARS - 1] + "…"
    return {
        "id": record.pk,
        "title": record_title(record),
        "date": day.isoformat() if day else None,
        "practitioner": practitioner_name(record),
        "key_info": key_info,
        "status": record_status(record),
    }


def data_summary(patient_id: int) -> dict:
    """{categories: {name: {count, records, has_more}}, total_records} of one patient."""
    found: dict[str, dict] = {}
    total = 0
    for name, category in categories().items():
        rows = category.model.objects.for_patient(patient_id)
        count = rows.count()
        total += count
        shown = list(newest_first(with_practitioner(rows), category.date_field)[:SUMMARY_RECORDS])
        found[name] = {
            "count": count,
            "records": [record_summary(r, category.date_field) for r in shown],
            "has_more": count > len(shown),
        }
    return {"categories": found, "total_records": total}
