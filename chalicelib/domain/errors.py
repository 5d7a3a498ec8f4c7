"""The domain's error vocabulary. The HTTP edge maps each class to one status code, in one place.

Every error carries a stable snake_case ``code`` that clients can branch on, and a human sentence.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a use case raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field


class ValidationError(DomainError):
    """The input is malformed (400)."""

    code = "validation_error"


class AuthenticationError(DomainError):
    """No credential, or one that is unknown, malformed or revoked (401)."""

    code = "unauthenticated"


class PermissionDeniedError(DomainError):
    """The credential is valid but its permission level is too low (403)."""

    code = "permission_denied"


class NotFoundError(DomainError):
    """Nothing with that id exists for the caller: also said of another tenant's things (404)."""

    code = "not_found"


class ConflictError(DomainError):
    """Wrong state or a conflicting write (409): invalid_transition, replica_read_only, ..."""

    code = "conflict"


class GoneError(DomainError):
    """What the request points at is no longer kept (410): cursor_expired."""

    code = "gone"


class TooLargeError(DomainError):
    """The request or the declared upload is above a size limit (413)."""

    code = "too_large"


class UnsupportedMediaTypeError(DomainError):
    """The body is not in a content type the route takes (415): a portal form not sent as one."""

    code = "unsupported_media_type"


class RuleViolationError(DomainError):
    """A business rule refuses the request (422): language_mismatch, agreement_required, ..."""

    code = "rule_violation"


class RateLimitedError(DomainError):
    """Too many attempts in a window (429)."""

    code = "rate_limited"


class NotConfiguredError(DomainError):
    """The deployment lacks a setting the request needs (503)."""

    code = "not_configured"
