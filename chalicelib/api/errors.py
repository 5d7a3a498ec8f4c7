"""The one mapping from domain errors to HTTP responses, and the error body shape.

``{"error": {"code": "snake_case", "message": "human sentence", "field": "where"}}``
"""

from __future__ import annotations

from typing import Any

from chalice.app import Response

from chalicelib.domain.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    GoneError,
    NotConfiguredError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RuleViolationError,
    TooLargeError,
    UnsupportedMediaTypeError,
    ValidationError,
)

# Each domain error class, its HTTP status, and what that status means in this API (the
# OpenAPI document's response descriptions are taken from here).
STATUS_BY_ERROR: tuple[tuple[type[DomainError], int, str], ...] = (
    (ValidationError, 400, "Bad input (validation_error, with the field)"),
    (AuthenticationError, 401, "No or bad credential"),
    (PermissionDeniedError, 403, "Permission level too low"),
    (NotFoundError, 404, "Not found (also anything belonging to another tenant)"),
    (ConflictError, 409, "Wrong state or conflict"),
    (GoneError, 410, "No longer kept (cursor_expired: start again without a cursor)"),
    (TooLargeError, 413, "Too large"),
    (UnsupportedMediaTypeError, 415, "Not sent in a content type this route takes"),
    (RuleViolationError, 422, "A business rule refused the request"),
    (RateLimitedError, 429, "Rate limited"),
    (NotConfiguredError, 503, "The deployment lacks a setting this request needs"),
)

REASON_BY_STATUS: dict[int, str] = {status: reason for _, status, reason in STATUS_BY_ERROR}


def status_of(error: DomainError) -> int:
    for cls, status, _ in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 400


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field
    return {"error": detail}


def error_response(error: DomainError) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json"}
    if isinstance(error, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return Response(
        body=error_body(error.code, error.message, error.field),
        status_code=status_of(error),
        headers=headers,
    )


# Chalice answers a few requests itself (unsupported media type, method not allowed, ...)
# with {"Code": ..., "Message": ...}; those are rewritten into our shape.
_CHALICE_CODES = {
    "BadRequestError": "validation_error",
    "BadRequest": "validation_error",
    "UnauthorizedError": "unauthenticated",
    "ForbiddenError": "permission_denied",
    "NotFoundError": "not_found",
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "RequestTimeoutError": "timeout",
    "ConflictError": "conflict",
    "UnprocessableEntityError": "rule_violation",
    "TooManyRequestsError": "rate_limited",
    "InternalServerError": "internal_error",
}


def rewrite_chalice_error(response: Response) -> Response:
    """Give Chalice's own error responses the contract's error shape."""
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or set(body) != {"Code", "Message"}:
        return response
    code = _CHALICE_CODES.get(str(body["Code"]), "error")
    message = str(body["Message"])
    if code == "unsupported_media_type":
        message = f"{message}. Send JSON with 'Content-Type: application/json'."
    if response.status_code >= 500:
        message = "An internal error occurred; it has been logged."
    headers: dict[str, str | list[str]] = dict(response.headers)
    headers["Content-Type"] = "application/json"
    return Response(
        body=error_body(code, message), status_code=response.status_code, headers=headers
    )
