"""What a report asks for: the request bodies, checked, turned into one plan.

Two clients send generate requests in different shapes (web-client-api.md §14 and the spec's
"Custom Reports"); both become the same plan, a JSON-ready dict stored on the GeneratedReport
row, so a worker that picks the row up later builds exactly what was asked:

    {patient_id, title, report_type, include_patient_info, include_summary,
     include_profile_picture, date_from, date_to, sections: [{category, record_ids|None}],
     vital_charts: [...], lab_test_charts: [...], auto_vital_charts}

`record_ids` None means every record of the category in the date range (the spec's sections).
"""

from __future__ import annotations

from rest_framework import serializers

from medikeep.api.representation import FastSerializer
from records.models.vitals import VitalType
from records.reports.categories import categories

DEFAULT_TITLE = "Custom Medical Report"
MAX_IDS_PER_CATEGORY = 1000
MAX_IDS_TOTAL = 5000
MAX_CHARTS = 10


def category_aliases() -> dict[str, str]:
    """Names a client may use for a category: its own, and its types' plural and singular."""
    aliases: dict[str, str] = {}
    for name, category in categories().items():
        for model in (category.model, *(child.model for child in category.children)):
            aliases.setdefault(model.kind.plural, name)
            aliases.setdefault(model.kind.name, name)
        aliases[name] = name
    return aliases


class CategoryField(serializers.CharField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        name = category_aliases().get(value)
        if name is None:
            raise serializers.ValidationError(
                f"Unknown category {value!r}; one of: {', '.join(categories())}."
            )
        return name


class DateRangeSerializer(FastSerializer):
    """{start_date, end_date} (the web app) or {start, end} (the spec); either end open."""

    start_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)
    start = serializers.DateField(required=False, allow_null=True)
    end = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs):
        start = attrs.get("start_date") or attrs.get("start")
        end = attrs.get("end_date") or attrs.get("end")
        if start and end and end < start:
            raise serializers.ValidationError({"end_date": ["The end date is before the start."]})
        return {"start": start, "end": end}


class _ChartDatesMixin:
    def validate(self, attrs):
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and end < start:
            raise serializers.ValidationError({"date_to": ["date_to is before date_from."]})
        return attrs


class VitalChartSerializer(_ChartDatesMixin, FastSerializer):
    vital_type = serializers.ChoiceField(choices=VitalType.choices)
    date_from = serializers.DateField(required=False, allow_null=True)
    date_to = serializers.DateField(required=False, allow_null=True)


class LabTestChartSerializer(_ChartDatesMixin, FastSerializer):
    test_name = serializers.CharField(max_length=500)
    unit = serializers.CharField(max_length=50, required=False, allow_null=True, allow_blank=True)
    date_from = serializers.DateField(required=False, allow_null=True)
    date_to = serializers.DateField(required=False, allow_null=True)


class TrendChartsSerializer(FastSerializer):
    vital_charts = VitalChartSerializer(many=True, required=False, default=list)
    lab_test_charts = LabTestChartSerializer(many=True, required=False, default=list)

    def validate(self, attrs):
        total = len(attrs["vital_charts"]) + len(attrs["lab_test_charts"])
        if total > MAX_CHARTS:
            raise serializers.ValidationError(
                f"At most {MAX_CHARTS} charts per report ({total} requested)."
            )
        return attrs


class SelectedRecordsSerializer(FastSerializer):
    category = CategoryField(max_length=50)
    record_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=MAX_IDS_PER_CATEGORY,
    )


def check_selected_records(selected: list[dict]) -> list[dict]:
    """No category twice, at most MAX_IDS_TOTAL ids; repeated ids kept once, in order."""
    seen = set()
    for item in selected:
        if item["category"] in seen:
            raise serializers.ValidationError(f"Category {item['category']!r} is listed twice.")
        seen.add(item["category"])
        item["record_ids"] = list(dict.fromkeys(item["record_ids"]))
    total = sum(len(item["record_ids"]) for item in selected)
    if total > MAX_IDS_TOTAL:
        raise serializers.ValidationError(
            f"At most {MAX_IDS_TOTAL} records per report ({total} selected)."
        )
    return selected


class AppGenerateSerializer(FastSerializer):
    """The web app's body (ReportBuilder)."""

    selected_records = SelectedRecordsSerializer(many=True, required=False, default=list)
    report_title = serializers.CharField(
        max_length=255, required=False, allow_blank=True, default=DEFAULT_TITLE
    )
    include_patient_info = serializers.BooleanField(required=False, default=True)
    include_summary = serializers.BooleanField(required=False, default=True)
    include_profile_picture = serializers.BooleanField(required=False, default=False)
    date_range = DateRangeSerializer(required=False, allow_null=True, default=None)
    trend_charts = TrendChartsSerializer(required=False, allow_null=True, default=None)
    patient_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)

    def validate_selected_records(self, value):
        return check_selected_records(value)

    def validate(self, attrs):
        charts = attrs.get("trend_charts") or {}
        if not attrs["selected_records"] and not (
            charts.get("vital_charts") or charts.get("lab_test_charts")
        ):
            raise serializers.ValidationError(
                {"selected_records": ["Select at least one record or trend chart."]}
            )
        return attrs

    def plan(self) -> dict:
        data = self.validated_data
        charts = data.get("trend_charts") or {}
        return _plan(
            title=data["report_title"].strip() or DEFAULT_TITLE,
            report_type="custom",
            include_patient_info=data["include_patient_info"],
            include_summary=data["include_summary"],
            include_profile_picture=data["include_profile_picture"],
            date_range=data.get("date_range"),
            sections=[
                {"category": item["category"], "record_ids": item["record_ids"]}
                for item in data["selected_records"]
            ],
            vital_charts=charts.get("vital_charts", []),
            lab_test_charts=charts.get("lab_test_charts", []),
            auto_vital_charts=False,
        )


REPORT_TYPE_TITLES = {"medical_summary": "Medical Summary"}


class SpecGenerateSerializer(FastSerializer):
    """The contract's body: every record of the named sections (all when none) in the range."""

    patient_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    report_type = serializers.RegexField(
        r"^[a-z][a-z0-9_]*$", max_length=50, required=False, default="medical_summary"
    )
    report_title = serializers.CharField(max_length=255, required=False, allow_blank=True)
    date_range = DateRangeSerializer(required=False, allow_null=True, default=None)
    include_sections = serializers.ListField(
        child=CategoryField(max_length=50), required=False, allow_null=True, max_length=100
    )
    include_patient_info = serializers.BooleanField(required=False, default=True)
    include_summary = serializers.BooleanField(required=False, default=True)
    include_charts = serializers.BooleanField(required=False, default=True)

    def plan(self) -> dict:
        data = self.validated_data
        names = list(dict.fromkeys(data.get("include_sections") or categories()))
        report_type = data["report_type"]
        title = (data.get("report_title") or "").strip() or REPORT_TYPE_TITLES.get(
            report_type, report_type.replace("_", " ").title()
        )
        return _plan(
            title=title,
            report_type=report_type,
            include_patient_info=data["include_patient_info"],
            include_summary=data["include_summary"],
            include_profile_picture=False,
            date_range=data.get("date_range"),
            sections=[{"category": name, "record_ids": None} for name in names],
            vital_charts=[],
            lab_test_charts=[],
            auto_vital_charts=data["include_charts"],
        )


def _iso(value):
    return value.isoformat() if value else None


def _plan(*, date_range, vital_charts, lab_test_charts, **fields) -> dict:
    date_range = date_range or {}
    return {
        **fields,
        "date_from": _iso(date_range.get("start")),
        "date_to": _iso(date_range.get("end")),
        "vital_charts": [
            {**c, "date_from": _iso(c.get("date_from")), "date_to": _iso(c.get("date_to"))}
            for c in vital_charts
        ],
        "lab_test_charts": [
            {
                "test_name": c["test_name"].strip(),
                "unit": None if c.get("unit") is None else c["unit"].strip(),
                "date_from": _iso(c.get("date_from")),
                "date_to": _iso(c.get("date_to")),
            }
            for c in lab_test_charts
        ],
    }


def generate_serializer(data) -> FastSerializer:
    """The body's form decides its serializer: the app's carries selected_records or
    trend_charts; anything else is read as the spec's."""
    is_app = isinstance(data, dict) and ("selected_records" in data or "trend_charts" in data)
    return (AppGenerateSerializer if is_app else SpecGenerateSerializer)(data=data)


# --- templates ---------------------------------------------------------------------------


class ReportSettingsSerializer(FastSerializer):
    report_title = serializers.CharField(
        max_length=255, required=False, allow_blank=True, allow_null=True
    )
    include_patient_info = serializers.BooleanField(required=False)
    include_profile_picture = serializers.BooleanField(required=False)
    include_summary = serializers.BooleanField(required=False)
    date_range = serializers.DictField(required=False, allow_null=True)

    def validate_date_range(self, value):
        if value is None:
            return None
        checked = DateRangeSerializer(data=value)
        checked.is_valid(raise_exception=True)
        # Kept in the app's own spelling, so a loaded template fills its form as saved.
        return {
            "start_date": _iso(checked.validated_data["start"]),
            "end_date": _iso(checked.validated_data["end"]),
        }


def charts_for_storage(charts: dict | None) -> dict | None:
    if charts is None:
        return None
    return {
        "vital_charts": [
            {**c, "date_from": _iso(c.get("date_from")), "date_to": _iso(c.get("date_to"))}
            for c in charts["vital_charts"]
        ],
        "lab_test_charts": [
            {
                **c,
                "unit": c.get("unit"),
                "date_from": _iso(c.get("date_from")),
                "date_to": _iso(c.get("date_to")),
            }
            for c in charts["lab_test_charts"]
        ],
    }
