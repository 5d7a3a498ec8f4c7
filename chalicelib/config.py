"""Settings: the only place that reads the environment.

Everything else asks :func:`get_settings` for a :class:`Settings` object. It is built on first use
(never at import), so tests and the local stack can set the environment first, and it is cached
for the life of the process. :func:`reset_settings` drops the cache (tests, local stack).

Each field is read from the environment variable of the same name in upper case (or from its
aliases); pydantic converts and validates the strings. (A plain model rather than
pydantic-settings: that package imports asyncio and much more, a fifth of a second of every cold
start.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_CONTENT_TYPES = (
    "application/pdf",
    "application/zip",
    "application/json",
    "application/xml",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/octet-stream",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/csv",
    "message/rfc822",
)


class Settings(BaseModel):
    """The deployment's configuration, from environment variables (names are case-insensitive)."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_by_name=True)

    stage: str = "local"
    service_name: str = Field("outsourcing", validation_alias="POWERTOOLS_SERVICE_NAME")
    region: str = Field(
        "us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    # One endpoint for every AWS service (local stack), and an optional DynamoDB-only override
    # (DynamoDB Local beside moto for the other services).
    aws_endpoint_url: str | None = None
    dynamodb_endpoint_url: str | None = None

    table_name: str = "outsourcing-main"
    bucket_name: str = "outsourcing-attachments"
    user_pool_id: str | None = None
    user_pool_client_id: str | None = None
    # The portal's public address, as links in emails must name it (the stage prefix included
    # behind API Gateway).
    portal_url: str = "http://127.0.0.1:8000/portal"
    # Where the stream's failed batches land (the Lambda on-failure destination).
    dead_letter_queue_url: str | None = None
    mail_from: str = "no-reply@outsourcing.example.com"

    # Operator credential: given directly (local stack) or as an SSM SecureString parameter name.
    operator_key: SecretStr | None = None
    operator_key_parameter: str | None = None

    # The API's public address for the OpenAPI document; "/" (relative) unless configured.
    api_base_url: str = "/"

    attachment_max_bytes: int = 25 * 1024 * 1024
    attachment_content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    presigned_url_seconds: int = 900
    request_body_max_bytes: int = 1024 * 1024

    # Authenticated API keys are remembered this long per process; revocation is seen by every
    # process within this window (the contract allows 60 s).
    auth_cache_seconds: int = 30
    idempotency_ttl_seconds: int = 24 * 3600
    # Outbound emails a tenant may cause per UTC day (invitations now, notifications later), so
    # the service cannot be used as a mail relay.
    mail_per_tenant_per_day: int = 200
    # How long the download links in an email forwarded to a network work.
    file_link_days: int = Field(7, ge=1, le=90)
    # A claimed key whose request never finished (the process died) is free again after this;
    # longer than any request may run (API Gateway gives up after 29 s).
    idempotency_lease_seconds: int = 60

    @property
    def public_api_url(self) -> str | None:
        """The API's public address, for links the service sends out (forwarded emails'
        download links): ``API_BASE_URL`` when it is absolute (the local stack sets it to
        ``http://127.0.0.1:<port>``), else the portal's address without its ``/portal``
        (deployed, ``PORTAL_URL`` holds the stage prefix: ``https://<api>/api/portal``). Never
        the request's Host header, which the caller chooses. None when neither is known."""
        for candidate, suffix in ((self.api_base_url, ""), (self.portal_url, "/portal")):
            url = candidate.rstrip("/")
            if url.startswith(("https://", "http://")) and url.endswith(suffix):
                return url.removesuffix(suffix) if suffix else url
        return None

    @property
    def dynamodb_endpoint(self) -> str | None:
        return self.dynamodb_endpoint_url or self.aws_endpoint_url

    @field_validator("attachment_content_types", mode="before")
    @classmethod
    def _content_types(cls, value: Any) -> Any:
        """A JSON list or a comma-separated string."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return tuple(json.loads(value))
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from an environment mapping (variable names compared case-insensitively)."""
        upper = {key.upper(): value for key, value in environ.items()}
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                candidates = [str(choice) for choice in alias.choices]
            elif isinstance(alias, str):
                candidates = [alias]
            else:
                candidates = [name]
            for candidate in candidates:
                if candidate.upper() in upper:
                    values[name] = upper[candidate.upper()]
                    break
        return cls.model_validate(values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built from the environment on first call."""
    return Settings.from_environ(os.environ)


def reset_settings() -> None:
    """Forget the cached settings so the next :func:`get_settings` reads the environment again."""
    get_settings.cache_clear()
