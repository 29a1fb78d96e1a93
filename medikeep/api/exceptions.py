"""The one place that turns any error into the API's JSON envelope.

Every error body is {"status": "error", "error": <for people>, "message": <same>,
"error_code": "VAL-422"…, "detail": <technical detail>} and validation errors add
"errors": {field: [messages]} with status 422.
"""

from __future__ import annotations

import logging

from django.core.exceptions import (
    ObjectDoesNotExist,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger("medikeep.api")

ERROR_CODES = {
    400: "BAD-400",
    401: "AUTH-401",
    403: "PERM-403",
    404: "NOT-404",
    405: "METHOD-405",
    406: "ACCEPT-406",
    409: "CONF-409",
    413: "SIZE-413",
    415: "MEDIA-415",
    422: "VAL-422",
    429: "RATE-429",
    500: "ISE-500",
    503: "SVC-503",
}


class ApiError(exceptions.APIException):
    """Base for refusals raised by services and views; subclasses fix status and code."""

    error_code: str | None = None


class BusinessRuleError(ApiError):
    """The request is well formed but a rule of the domain refuses it."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request breaks a rule of this resource."
    error_code = "BIZ-400"


class ConflictError(ApiError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with existing data."


class PayloadTooLarge(ApiError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."


class UnauthorizedError(ApiError):
    """401 for a wrong credential inside an authenticated request (e.g. current password)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "Invalid credentials."


class FieldValidationError(exceptions.ValidationError):
    """A 422 naming one field, for checks that happen outside a serializer."""

    def __init__(self, field: str, message: str):
        super().__init__({field: [message]})


class RequestValidationError(exceptions.ValidationError):
    """Validation errors answered with 400 instead of 422, for the few endpoints whose
    contract says so (the sharing invitations: "400 bad level, missing fields")."""

    status_code = status.HTTP_400_BAD_REQUEST


def _flatten(errors, prefix: str = "") -> dict[str, list[str]]:
    """{"a": {"b": ["x"]}} -> {"a.b": ["x"]}; lists of per-item errors get their index."""
    flat: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            if isinstance(key, int) and prefix:  # errors of list items: "times[2]"
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(_flatten(value, name))
    elif isinstance(errors, list):
        if all(not isinstance(item, dict | list) for item in errors):
            flat[prefix or "non_field_errors"] = [str(item) for item in errors]
        else:
            for index, item in enumerate(errors):
                if item:
                    flat.update(_flatten(item, f"{prefix}[{index}]" if prefix else str(index)))
    else:
        flat[prefix or "non_field_errors"] = [str(errors)]
    return flat


def _human_field(name: str) -> str:
    return "" if name == "non_field_errors" else name


def validation_summary(errors: dict[str, list[str]]) -> tuple[str, list[str]]:
    lines = []
    for field, messages in errors.items():
        label = _human_field(field)
        for message in messages:
            lines.append(f"{label}: {message}" if label else message)
    summary = "; ".join(lines[:3]) + (" …" if len(lines) > 3 else "")
    return summary or "Validation failed.", lines


def _message_of(detail) -> str:
    if isinstance(detail, dict):
        if "detail" in detail:
            return str(detail["detail"])
        return "; ".join(f"{k}: {_message_of(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return "; ".join(_message_of(item) for item in detail)
    return str(detail)


def error_body(status_code: int, message: str, *, detail=None, errors=None, code=None) -> dict:
    body = {
        "status": "error",
        "error": message,
        "message": message,
        "error_code": code or ERROR_CODES.get(status_code, f"ERR-{status_code}"),
        "detail": detail if detail is not None else message,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def _translate(exc: Exception) -> Exception:
    """Django and database exceptions become their API counterparts."""
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or None)
    if isinstance(exc, ObjectDoesNotExist):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, ProtectedError | RestrictedError):
        return ConflictError("This item is still used by other records and cannot be deleted.")
    # Django's own messages for these name its settings; the client needs none of that.
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return exceptions.ParseError("The request body has too many fields or files.")
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError(str(exc) or "The request was refused as unsafe.")
    return exc


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view"), exc_info=exc)
        return Response(
            error_body(500, "An unexpected error occurred."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        message, lines = validation_summary(errors)
        code = exc.status_code if isinstance(exc, RequestValidationError) else 422
        response.status_code = code
        response.data = error_body(code, message, detail=lines, errors=errors)
        return response
    code = getattr(exc, "error_code", None)
    response.data = error_body(response.status_code, _message_of(exc.detail), code=code)
    return response


def status_and_lines(exc: exceptions.APIException) -> tuple[int, list[str]]:
    """The status and the messages the API would answer `exc` with, for the few plain HTML
    pages (portal join, password reset) that show the same errors as the API."""
    if isinstance(exc, exceptions.ValidationError):
        code = exc.status_code if isinstance(exc, RequestValidationError) else 422
        return code, validation_summary(_flatten(exc.detail))[1]
    return exc.status_code, [_message_of(exc.detail)]


def json_error_view(status_code: int, message: str):
    """Django-level handlers (404/500 outside DRF) for API paths."""

    def view(request, exception=None):
        return JsonResponse(error_body(status_code, message), status=status_code)

    return view
