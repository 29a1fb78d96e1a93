"""drf-spectacular extensions for the project's own framework pieces."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions

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


# --- The schema every operation gets: words, security and error answers -------------------

ERROR_ENVELOPE = "ErrorEnvelope"

ERROR_ENVELOPE_SCHEMA = {
    "type": "object",
    "description": "Every error answer of the API has this shape.",
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "error": {"type": "string", "description": "What went wrong, in words for people."},
        "message": {"type": "string", "description": "The same text as `error`."},
        "error_code": {
            "type": "string",
            "description": "A stable code: AUTH-401, PERM-403, NOT-404, CONF-409, VAL-422, "
            "RATE-429 …",
            "example": "VAL-422",
        },
        "detail": {
            "description": "Technical detail: the message again, or for validation errors "
            "the list of problems.",
            "nullable": True,
        },
        "errors": {
            "type": "object",
            "description": "Validation errors only: the messages of each field (nested "
            "fields as `a.b`, list items as `items[2]`).",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["status", "error", "message", "error_code", "detail"],
}

ERROR_REASONS = {
    "400": "The request could not be read (malformed JSON or form data), or a rule of this "
    "resource refuses it.",
    "401": "Not signed in: no bearer token or session cookie, or it is invalid, expired or "
    "signed out.",
    "403": "Signed in but not allowed: your access level is too low for this, the account "
    "must change its password first, or the action needs an administrator.",
    "404": "Nothing with this id exists that you may see (other people's data answers 404 too).",
    "409": "The request conflicts with the current state (a duplicate, a job already "
    "running, or a row still used elsewhere).",
    "422": "Validation failed: `errors` names each field with its messages.",
    "429": "Too many requests: wait for the number of seconds in the Retry-After header.",
}

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The `access_token` that POST /auth/login answers, sent as "
        "`Authorization: Bearer <token>`.",
    },
    "cookieAuth": {
        "type": "apiKey",
        "in": "cookie",
        "name": "medapp_session",
        "description": "The HttpOnly session cookie login sets for browsers. An unsafe request "
        "(POST, PUT, PATCH, DELETE) carried by the cookie alone must come from this site's "
        "own origin.",
    },
}

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class MediKeepAutoSchema(AutoSchema):
    """The project's schema class (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]).

    Gives every operation a summary and a description (an `extend_schema` on the view wins;
    record types and link paths get theirs from the record registry, see schema_words.py),
    the two sign-in alternatives, and the error answers the view can give, all pointing at
    one ErrorEnvelope component.
    """

    def get_summary(self):
        from medikeep.api.schema_words import summary_for

        if getattr(self, "_describing", False):
            return None  # description_for asks only whether the view set a summary
        return summary_for(self)

    def get_description(self):
        from medikeep.api.schema_words import description_for

        return description_for(self)

    # -- security: bearer OR cookie, or nothing for public operations
    def requires_authentication(self) -> bool:
        if not self.view.get_authenticators():
            return False
        perms = [p.__class__ for p in self.view.get_permissions()]
        if not perms or permissions.AllowAny in perms:
            return False
        read_only_open = permissions.IsAuthenticatedOrReadOnly in perms
        return not (read_only_open and self.method in permissions.SAFE_METHODS)

    def get_auth(self):
        if not self.requires_authentication():
            return []
        for name, definition in SECURITY_SCHEMES.items():
            self.registry.register_on_missing(
                ResolvedComponent(
                    name=name,
                    type=ResolvedComponent.SECURITY_SCHEMA,
                    object=name,
                    schema=definition,
                )
            )
        return [{name: []} for name in SECURITY_SCHEMES]

    # -- error answers
    def error_statuses(self, operation: dict) -> set[str]:
        """The error answers this operation can give, from what the view does."""
        statuses = {"429"}  # every scope is throttled
        has_body = "requestBody" in operation
        has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
        if self.requires_authentication():
            statuses.add("401")
            refuses_by_rule = not getattr(
                self.view, "allowed_while_password_change_required", False
            )
            extra_permissions = any(
                p.__class__ not in (permissions.IsAuthenticated, permissions.AllowAny)
                for p in self.view.get_permissions()
            )
            if refuses_by_rule or extra_permissions:
                statuses.add("403")
        if "{" in self.path:
            statuses.add("404")
        if has_body:
            statuses.update({"400", "422"})
        if has_query:
            statuses.add("422")
        if self.method == "DELETE":
            statuses.add("409")  # a row other rows still need is refused with 409
        statuses.update(self._view_error_reasons())
        return statuses

    def _error_envelope_ref(self) -> dict:
        component = ResolvedComponent(
            name=ERROR_ENVELOPE,
            type=ResolvedComponent.SCHEMA,
            object=ERROR_ENVELOPE,
            schema=ERROR_ENVELOPE_SCHEMA,
        )
        self.registry.register_on_missing(component)
        return component.ref

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        envelope = {"application/json": {"schema": self._error_envelope_ref()}}
        reasons = dict(ERROR_REASONS, **self._view_error_reasons())
        for code in sorted(self.error_statuses(operation)):
            if code not in responses:
                responses[code] = {"description": reasons[code], "content": envelope}
        for code, response in responses.items():
            # Errors a view documents only in words still answer the envelope.
            if code.startswith("4") and not response.get("content"):
                response["content"] = envelope
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _view_error_reasons(self) -> dict[str, str]:
        """A view's `documented_errors = {409: "why"}`: answers its writes can give that
        nothing else in the view shows (a service refusing a duplicate)."""
        if self.method not in WRITE_METHODS:
            return {}
        documented = getattr(self.view, "documented_errors", None) or {}
        return {str(code): text for code, text in dict(documented).items()}


API_DESCRIPTION = """\
Self-hosted personal health records: patients, their medical records of every type, files,
sharing with family and carers, reminders and notifications, and the administration of the
installation.

**Signing in.** POST /auth/login (form-encoded or JSON) answers an `access_token`: send it as
`Authorization: Bearer <token>`. Browsers may rely instead on the HttpOnly `medapp_session`
cookie the same answer sets; an unsafe request (POST, PUT, PATCH, DELETE) carried by the cookie
alone must come from this site's own origin. Operations that list no security are public.

**Patients and access.** Every record belongs to one patient. You see the patients you own and
those shared with you, at VIEW, EDIT or FULL level: reading needs VIEW, writing needs EDIT
(403 with less). A patient you cannot see answers 404, as if it did not exist. Lists without
`patient_id` show your active patient (POST /patient-management/switch).

**Lists.** `skip` and `limit` page a list; each operation documents its default and maximum.

**Errors.** Every error answers the same JSON envelope (ErrorEnvelope): `status` "error",
`error` and `message` in words for people, a stable `error_code` (AUTH-401, PERM-403,
NOT-404, CONF-409, VAL-422, RATE-429 …) and `detail`; validation errors (422) add `errors`,
the messages of each field. Fields a resource does not know are ignored.

**Rate limits.** Requests are limited per scope (sign-in, uploads, search, everything else);
a 429 says in Retry-After how many seconds to wait.
"""


def describe_api(result, generator, request, public):
    """Post-processing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): the words every
    client author reads first, in the schema's info block."""
    result["info"]["description"] = API_DESCRIPTION
    return result
