"""Tenants, API keys, the Outsource Agreement and the outsourcing settings."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from chalicelib.api.models.base import (
    Currency,
    EmailAddress,
    Language,
    Name,
    RequestModel,
    ResponseModel,
)
from chalicelib.domain import agreement
from chalicelib.domain.clock import iso, iso_or_none
from chalicelib.domain.notifications import MAX_ADDRESSES_PER_EVENT, NotificationEvent
from chalicelib.domain.tenants import (
    INVITATION_PLACEHOLDERS,
    AgreementAcceptance,
    ApiKey,
    Permission,
    Tenant,
)
from chalicelib.ports import Page
from chalicelib.service.api_keys import IssuedKey
from chalicelib.service.tenants import CreatedTenant


class TenantCreate(RequestModel):
    name: Name
    language: Language
    currency: Currency
    contact_email: EmailAddress


class TenantCreated(ResponseModel):
    tenant_id: str
    api_key: str = Field(description="An 'all' key for the new tenant; shown only here.")

    @classmethod
    def of(cls, created: CreatedTenant) -> TenantCreated:
        return cls(tenant_id=created.tenant.tenant_id, api_key=created.issued.token)


class AgreementOut(ResponseModel):
    by: str
    at: str
    version: str

    @classmethod
    def of(cls, acceptance: AgreementAcceptance) -> AgreementOut:
        return cls(by=acceptance.by, at=iso(acceptance.at), version=acceptance.version)


class TenantOut(ResponseModel):
    tenant_id: str
    name: str
    language: str
    currency: str
    contact_email: str
    outsourcing_enabled: bool
    agreement: AgreementOut | None
    created_at: str

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(
            tenant_id=tenant.tenant_id,
            name=tenant.name,
            language=tenant.language,
            currency=tenant.currency,
            contact_email=tenant.contact_email,
            outsourcing_enabled=tenant.outsourcing_enabled,
            agreement=AgreementOut.of(tenant.agreement) if tenant.agreement else None,
            created_at=iso(tenant.created_at),
        )


class ApiKeyCreate(RequestModel):
    name: Name
    permission: Permission


class _ApiKeyFields(ResponseModel):
    id: str
    name: str
    permission: Permission
    created_at: str
    revoked_at: str | None
    active: bool


def _key_fields(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.key_id,
        "name": key.name,
        "permission": key.permission,
        "created_at": iso(key.created_at),
        "revoked_at": iso_or_none(key.revoked_at),
        "active": key.active,
    }


class ApiKeyOut(_ApiKeyFields):
    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(**_key_fields(key))


class ApiKeyCreated(_ApiKeyFields):
    api_key: str | None = Field(
        description="The secret key: shown only in this first response, stored only as a hash "
        "(null when the response is an Idempotency-Key replay)."
    )

    @classmethod
    def of(cls, issued: IssuedKey) -> ApiKeyCreated:
        return cls(**_key_fields(issued.key), api_key=issued.token)


class ApiKeyList(ResponseModel):
    items: list[ApiKeyOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[ApiKey]) -> ApiKeyList:
        return cls(items=[ApiKeyOut.of(k) for k in page.items], next_cursor=page.next_cursor)


class AgreementAcceptanceOut(ResponseModel):
    by: str
    at: str
    version: str


class AgreementDocument(ResponseModel):
    version: str
    text: str
    accepted: AgreementAcceptanceOut | None = Field(
        description="This tenant's latest acceptance (possibly of an earlier version)."
    )
    accepted_current: bool

    @classmethod
    def of(cls, tenant: Tenant) -> AgreementDocument:
        accepted = tenant.agreement
        return cls(
            version=agreement.CURRENT_VERSION,
            text=agreement.TEXT,
            accepted=(
                AgreementAcceptanceOut(
                    by=accepted.by, at=iso(accepted.at), version=accepted.version
                )
                if accepted
                else None
            ),
            accepted_current=agreement.is_accepted(tenant),
        )


class AgreementAccept(RequestModel):
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    accepted_by: Name


Subject = Annotated[str, StringConstraints(min_length=1, max_length=300)]
TemplateBody = Annotated[str, StringConstraints(min_length=1, max_length=20000)]


class SettingsUpdate(RequestModel):
    enabled: bool | None = None
    invitation_subject: Subject | None = None
    invitation_template: TemplateBody | None = None
    invitation_expiry_days: Annotated[int, Field(ge=1, le=90)] | None = None
    notifications: (
        dict[
            Annotated[str, Field(max_length=40)],
            Annotated[list[EmailAddress], Field(max_length=MAX_ADDRESSES_PER_EVENT)],
        ]
        | None
    ) = Field(
        default=None,
        description=(
            "Who is emailed about each outsourcing event ("
            + ", ".join(e.value for e in NotificationEvent)
            + "); replaces the whole map. An event left out goes to the primary contact, an "
            "empty list to nobody."
        ),
    )


class SettingsOut(ResponseModel):
    enabled: bool
    invitation_subject: str
    invitation_template: str
    invitation_expiry_days: int
    placeholders: list[str]
    notifications: dict[str, list[str]] = Field(
        description="Addresses per event as set; events left out go to the primary contact."
    )
    notification_events: list[str]
    agreement_accepted: bool
    outsourcing_allowed: bool

    @classmethod
    def of(cls, tenant: Tenant) -> SettingsOut:
        return cls(
            enabled=tenant.outsourcing_enabled,
            invitation_subject=tenant.settings.invitation_subject,
            invitation_template=tenant.settings.invitation_template,
            invitation_expiry_days=tenant.settings.invitation_expiry_days,
            placeholders=sorted(INVITATION_PLACEHOLDERS),
            notifications={
                event.value: list(addresses)
                for event, addresses in sorted(tenant.settings.notification_addresses.items())
            },
            notification_events=[event.value for event in NotificationEvent],
            agreement_accepted=agreement.is_accepted(tenant),
            outsourcing_allowed=agreement.outsourcing_allowed(tenant),
        )
