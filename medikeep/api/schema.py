"""drf-spectacular extensions for the project's own framework pieces."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerOrCookieScheme(OpenApiAuthenticationExtension):
    target_class = "medikeep.api.authentication.BearerOrCookieJWTAuthentication"
    name = ["jwtAuth", "jwtCookieAuth"]
    priority = 1

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            {"type": "apiKey", "in": "cookie", "name": "medapp_session"},
        ]


PROJECT_PACKAGES = (
    "medikeep",
    "patients",
    "records",
    "sharing",
    "notifications",
    "files",
    "adminops",
)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def register_choice_enum_names() -> None:
    """Names every project TextChoices "<Class>Enum" in the schema.

    Choice classes are named <Model><Field> (MedicationStatus), so the names are unique and
    stable; without this, many fields called "status" collide and get hashed names.
    """
    from django.db.models import Choices
    from drf_spectacular.settings import spectacular_settings

    overrides = dict(spectacular_settings.ENUM_NAME_OVERRIDES)
    seen_value_sets = set()
    for choices in _subclasses(Choices):
        if choices.__module__.split(".")[0] not in PROJECT_PACKAGES:
            continue
        # drf-spectacular names enums by their set of values: two classes with the same
        # values are one enum in the schema, named after the first.
        values = frozenset(choices.values)
        if values in seen_value_sets:
            continue
        seen_value_sets.add(values)
        overrides.setdefault(
            f"{choices.__name__}Enum", f"{choices.__module__}.{choices.__qualname__}"
        )
    spectacular_settings.ENUM_NAME_OVERRIDES = overrides
