"""Outsourcing set-up: the Outsource Agreement and the outsourcing settings."""

from __future__ import annotations

from chalicelib.api.models import (
    AgreementAccept,
    AgreementAcceptanceOut,
    AgreementDocument,
    SettingsOut,
    SettingsUpdate,
)
from chalicelib.api.routing import Api, Call
from chalicelib.domain import agreement
from chalicelib.domain.clock import iso
from chalicelib.domain.tenants import INVITATION_PLACEHOLDERS, Permission, Tenant
from chalicelib.service import outsourcing_setup
from chalicelib.service.tenants import get_tenant

api = Api(__name__, "outsourcing-setup")


def _document(tenant: Tenant) -> AgreementDocument:
    accepted = tenant.agreement
    return AgreementDocument(
        version=agreement.CURRENT_VERSION,
        text=agreement.TEXT,
        accepted=(
            AgreementAcceptanceOut(by=accepted.by, at=iso(accepted.at), version=accepted.version)
            if accepted
            else None
        ),
        accepted_current=agreement.is_accepted(tenant),
    )


def _settings(tenant: Tenant) -> SettingsOut:
    return SettingsOut(
        enabled=tenant.outsourcing_enabled,
        invitation_subject=tenant.settings.invitation_subject,
        invitation_template=tenant.settings.invitation_template,
        invitation_expiry_days=tenant.settings.invitation_expiry_days,
        placeholders=sorted(INVITATION_PLACEHOLDERS),
        agreement_accepted=agreement.is_accepted(tenant),
        outsourcing_allowed=agreement.outsourcing_allowed(tenant),
    )


@api.route(
    "GET",
    "/v1/outsourcing/agreement",
    summary="The current Outsource Agreement and this tenant's acceptance",
    response=AgreementDocument,
)
def get_agreement(call: Call) -> AgreementDocument:
    return _document(get_tenant(call.container.tenants, call.tenant_id))


@api.route(
    "POST",
    "/v1/outsourcing/agreement/accept",
    summary="Accept the current Outsource Agreement (only the current version: 409 otherwise)",
    body=AgreementAccept,
    response=AgreementDocument,
    permission=Permission.ALL,
)
def accept_agreement(call: Call) -> AgreementDocument:
    body: AgreementAccept = call.body
    tenant = outsourcing_setup.accept_agreement(
        call.container.tenants,
        call.tenant_id,
        version=body.version,
        accepted_by=body.accepted_by,
        now=call.now,
    )
    return _document(tenant)


@api.route(
    "GET",
    "/v1/outsourcing/settings",
    summary="Outsourcing settings",
    response=SettingsOut,
    permission=Permission.ALL,
)
def get_settings(call: Call) -> SettingsOut:
    return _settings(get_tenant(call.container.tenants, call.tenant_id))


@api.route(
    "PUT",
    "/v1/outsourcing/settings",
    summary="Change outsourcing settings (fields left out stay as they are)",
    body=SettingsUpdate,
    response=SettingsOut,
    permission=Permission.ALL,
)
def put_settings(call: Call) -> SettingsOut:
    body: SettingsUpdate = call.body
    tenant = outsourcing_setup.update_settings(
        call.container.tenants, call.tenant_id, body.model_dump(exclude_unset=True)
    )
    return _settings(tenant)
