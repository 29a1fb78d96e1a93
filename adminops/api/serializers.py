"""Request and response shapes of the system, utils and frontend-logs endpoints."""

from __future__ import annotations

import json
from datetime import UTC

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from medikeep.api.representation import FastSerializer

MAX_BLOB_BYTES = 10 * 1024
MAX_BLOB_DEPTH = 10
RELEASES_DEFAULT, RELEASES_MAX = 10, 20


def utc_datetime(**kwargs) -> serializers.DateTimeField:
    # Server times always in UTC ("…Z"), whatever the facility timezone is.
    return serializers.DateTimeField(default_timezone=UTC, **kwargs)


def _enum_schema(values: list[str]) -> dict:
    return {"type": "string", "enum": values}


# Shared choice sets get their own schema component: "status" or "level" fields with other
# choices elsewhere in the API would otherwise collide on the generated enum names.
CHECK_STATUSES = ["ok", "error"]
# The contract's levels and categories. The web app also sends upper-case Python level names
# and free-text categories (web-client-api.md §15): all are accepted, never refused.
FRONTEND_LEVELS = ["error", "warn", "info", "debug"]
FRONTEND_CATEGORIES = ["error", "user_action", "performance", "security"]
FRONTEND_LEVEL_ALIASES = {"warning": "warn", "critical": "critical", "fatal": "critical"}
CATEGORY_MAX = 100


@extend_schema_field(_enum_schema(CHECK_STATUSES), component_name="HealthCheckStatusEnum")
class CheckStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=CHECK_STATUSES, **kwargs)


@extend_schema_field(
    {
        "type": "string",
        "description": f"One of {', '.join(FRONTEND_LEVELS)} in any case, or DEBUG, INFO, "
        "WARNING, ERROR, CRITICAL; anything else is logged as info.",
        "example": "info",
    }
)
class FrontendLevelField(serializers.Field):
    """Any value: the contract's levels and Python's names, in any case; else info."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", "info")
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None:
            return True, "info"
        return super().validate_empty_values(data)

    def to_internal_value(self, data) -> str:
        name = str(data).strip().lower() if isinstance(data, str | int | float) else ""
        name = FRONTEND_LEVEL_ALIASES.get(name, name)
        return name if name in FRONTEND_LEVELS or name == "critical" else "info"

    def to_representation(self, value) -> str:
        return value


class FrontendCategoryField(serializers.CharField):
    """Free text, trimmed and cut to CATEGORY_MAX characters (never refused for its length)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault(
            "help_text",
            f"Free text, e.g. {', '.join(FRONTEND_CATEGORIES)}, app, api_error (trimmed, at "
            f"most {CATEGORY_MAX} characters kept).",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> str:
        return super().to_internal_value(data)[:CATEGORY_MAX].strip()


class LenientIntegerField(serializers.IntegerField):
    """A number the browser claims (its user id): an unusable value is dropped, not refused."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            return None


class LenientDateTimeField(serializers.DateTimeField):
    """The browser's clock reading: an unreadable one is dropped (the log line has the
    server's time anyway), not refused."""

    def to_internal_value(self, value):
        try:
            return super().to_internal_value(value)
        except serializers.ValidationError:
            return None


# --- system -------------------------------------------------------------------------------


class DatabaseHealthSerializer(FastSerializer):
    status = CheckStatusField()
    vendor = serializers.CharField()


class BrokerHealthSerializer(FastSerializer):
    status = CheckStatusField()
    transport = serializers.ChoiceField(choices=["redis", "filesystem", "eager"])


class WorkerHealthSerializer(FastSerializer):
    status = serializers.ChoiceField(choices=["ok", "stale", "unknown"])
    last_seen = utc_datetime(allow_null=True)


class LoggingHealthSerializer(FastSerializer):
    current_level = serializers.CharField()
    level_valid = serializers.BooleanField()
    categories_configured = serializers.IntegerField()


class CacheHealthSerializer(FastSerializer):
    status = CheckStatusField()
    backend = serializers.ChoiceField(choices=["redis", "local"])


class SystemHealthSerializer(FastSerializer):
    status = serializers.ChoiceField(choices=["healthy", "unhealthy"])
    reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="Why the status is unhealthy (which component is down); empty when healthy.",
    )
    timestamp = utc_datetime()
    app_name = serializers.CharField()
    version = serializers.CharField()
    database = DatabaseHealthSerializer()
    cache = CacheHealthSerializer()
    broker = BrokerHealthSerializer()
    worker = WorkerHealthSerializer()
    logging_system = LoggingHealthSerializer()


class VersionSerializer(FastSerializer):
    app_name = serializers.CharField()
    version = serializers.CharField()
    timestamp = utc_datetime()


class RateLimitInfoSerializer(FastSerializer):
    requests_remaining = serializers.IntegerField()
    requests_limit = serializers.IntegerField()
    window_seconds = serializers.IntegerField()
    reset_time = utc_datetime()


class LogConfigurationSerializer(FastSerializer):
    log_level_numeric = serializers.IntegerField(allow_null=True)
    simplified_structure = serializers.BooleanField()
    file_count = serializers.IntegerField()
    max_file_size_mb = serializers.FloatField()
    backup_count = serializers.IntegerField()


class LogLevelSerializer(FastSerializer):
    current_level = serializers.CharField()
    available_levels = serializers.ListField(child=serializers.CharField())
    default_level = serializers.CharField()
    categories = serializers.ListField(child=serializers.CharField())
    file_mapping = serializers.DictField(child=serializers.CharField())
    configuration = LogConfigurationSerializer()
    timestamp = utc_datetime()
    rate_limit_info = RateLimitInfoSerializer(allow_null=True)


class RotationConfigurationSerializer(FastSerializer):
    method = serializers.CharField()
    size = serializers.CharField()
    time = serializers.CharField(allow_null=True)
    backup_count = serializers.IntegerField()
    compression = serializers.BooleanField()
    retention_days = serializers.IntegerField(allow_null=True)


class LogFileSerializer(FastSerializer):
    path = serializers.CharField()
    size_bytes = serializers.IntegerField()
    size_mb = serializers.FloatField()
    exists = serializers.BooleanField()


class RotationFeaturesSerializer(FastSerializer):
    size_based_rotation = serializers.BooleanField()
    time_based_rotation = serializers.BooleanField()
    compression = serializers.BooleanField()
    hybrid_rotation = serializers.BooleanField()


class LogRotationSerializer(FastSerializer):
    rotation_method = serializers.CharField()
    logrotate_available = serializers.BooleanField()
    configuration = RotationConfigurationSerializer()
    log_directory = serializers.CharField()
    log_files = serializers.DictField(child=LogFileSerializer())
    features = RotationFeaturesSerializer()
    notes = serializers.DictField(child=serializers.CharField())
    timestamp = utc_datetime()


class ReleasesQuerySerializer(FastSerializer):
    limit = serializers.IntegerField(
        required=False,
        default=RELEASES_DEFAULT,
        min_value=1,
        help_text=f"How many releases to return (default {RELEASES_DEFAULT}, capped at "
        f"{RELEASES_MAX}).",
    )

    def validate_limit(self, value: int) -> int:
        # The contract caps rather than refuses large values.
        return min(value, RELEASES_MAX)


class ReleaseSerializer(FastSerializer):
    tag_name = serializers.CharField()
    name = serializers.CharField()
    body = serializers.CharField()
    published_at = utc_datetime(allow_null=True)
    html_url = serializers.URLField(allow_null=True)


class ReleasesSerializer(FastSerializer):
    releases = ReleaseSerializer(many=True)
    current_version = serializers.CharField()
    timestamp = utc_datetime()


class TimezoneInfoSerializer(FastSerializer):
    timezone = serializers.CharField()
    utc_offset = serializers.CharField(help_text="+HH:MM")
    current_time = serializers.CharField(help_text="Facility-local ISO 8601 time.")
    is_dst = serializers.BooleanField()
    facility_timezone = serializers.CharField()
    current_utc_time = serializers.CharField()
    current_facility_time = serializers.CharField()
    timezone_offset_hours = serializers.FloatField()


class RootHealthSerializer(FastSerializer):
    status = serializers.ChoiceField(choices=["ok"])
    app_name = serializers.CharField()
    version = serializers.CharField()
    timestamp = utc_datetime()


# --- frontend logs --------------------------------------------------------------------------


def _check_blob(value: dict) -> dict:
    """Bounds free-form objects before they are logged: size keeps log lines sane, depth keeps
    the recursive redaction (and json.dumps) far from Python's recursion limit."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if not isinstance(item, list):
            continue
        if depth > MAX_BLOB_DEPTH:
            raise serializers.ValidationError(f"Nested deeper than {MAX_BLOB_DEPTH} levels.")
        stack.extend((child, depth + 1) for child in item)
    if len(json.dumps(value, default=str)) > MAX_BLOB_BYTES:
        raise serializers.ValidationError(f"Larger than {MAX_BLOB_BYTES // 1024} KB as JSON.")
    return value


def json_object(**kwargs) -> serializers.DictField:
    return serializers.DictField(
        required=False, allow_null=True, validators=[_check_blob], **kwargs
    )


def optional_text(max_length: int) -> serializers.CharField:
    return serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=max_length
    )


class _ClientEventSerializer(FastSerializer):
    """Fields every browser event may carry. A client's user_id is kept as a claim only; the
    log names the authenticated user."""

    user_id = LenientIntegerField(required=False, allow_null=True)
    timestamp = LenientDateTimeField(required=False, allow_null=True)
    url = optional_text(2048)


class FrontendLogSerializer(_ClientEventSerializer):
    """Keys not declared here (the app adds arbitrary ones, even "0", "1" …) are ignored."""

    level = FrontendLevelField()
    message = serializers.CharField(max_length=5000, allow_blank=True)
    category = FrontendCategoryField()
    user_agent = optional_text(1000)
    stack_trace = optional_text(20000)
    session_id = optional_text(200)
    component = optional_text(200)
    action = optional_text(200)
    details = json_object()


class FrontendErrorSerializer(_ClientEventSerializer):
    error_message = serializers.CharField(max_length=5000)
    error_type = serializers.CharField(max_length=200)
    stack_trace = optional_text(20000)
    component_name = optional_text(200)
    props = json_object()
    user_agent = optional_text(1000)
    browser_info = json_object()


class UserActionSerializer(_ClientEventSerializer):
    action = serializers.CharField(max_length=200)
    component = serializers.CharField(max_length=200)
    details = json_object()


class FrontendLogAckSerializer(FastSerializer):
    status = serializers.ChoiceField(choices=["logged", "error_logged", "action_logged"])
    timestamp = utc_datetime()


class FrontendLogHealthSerializer(FastSerializer):
    status = serializers.ChoiceField(choices=["healthy"])
    service = serializers.CharField()
    timestamp = utc_datetime()


# --- activity log ---------------------------------------------------------------------------

RECENT_ACTIVITY_DEFAULT, RECENT_ACTIVITY_MAX = 10, 100


class RecentActivityQuerySerializer(FastSerializer):
    limit = serializers.IntegerField(
        required=False,
        default=RECENT_ACTIVITY_DEFAULT,
        min_value=1,
        max_value=RECENT_ACTIVITY_MAX,
        help_text=f"How many entries to return (default {RECENT_ACTIVITY_DEFAULT}, at most "
        f"{RECENT_ACTIVITY_MAX}).",
    )
    patient_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,  # beyond, the database driver would fail instead of a 422
        help_text="Show this patient's activity by anyone (needs view access) instead of your "
        "own activity across your patients.",
    )


class RecentActivityItemSerializer(FastSerializer):
    id = serializers.IntegerField()
    model_name = serializers.CharField(help_text='The record type, e.g. "Medication".')
    entity_type = serializers.CharField(help_text='snake_case, e.g. "medication".')
    entity_id = serializers.IntegerField(allow_null=True)
    action = serializers.CharField(help_text="created, updated, deleted …")
    description = serializers.CharField()
    timestamp = utc_datetime()
    patient_id = serializers.IntegerField(allow_null=True)
    user_id = serializers.IntegerField(allow_null=True)
