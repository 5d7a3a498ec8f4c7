"""Outsourcing set-up: the Outsource Agreement and the outsourcing settings."""

from __future__ import annotations

from chalicelib.api.models.tenants import (
    AgreementAccept,
    AgreementDocument,
    SettingsOut,
    SettingsUpdate,
)
from chalicelib.api.routing import Api, Call
from chalicelib.domain.tenants import Permission
from chalicelib.service import outsourcing_setup
from chalicelib.service.tenants import get_tenant

api = Api(__name__, "outsourcing-setup")


@api.route(
    "GET",
    "/v1/outsourcing/agreement",
    summary="The current Outsource Agreement and this tenant's acceptance",
)
def get_agreement(call: Call[None, None]) -> AgreementDocument:
    return AgreementDocument.of(get_tenant(call.container.tenants, call.tenant_id))


@api.route(
    "POST",
    "/v1/outsourcing/agreement/accept",
    summary="Accept the current Outsource Agreement (only the current version: 409 otherwise)",
    permission=Permission.ALL,
    errors=(409,),
)
def accept_agreement(call: Call[AgreementAccept, None]) -> AgreementDocument:
    tenant = outsourcing_setup.accept_agreement(
        call.container.tenants,
        call.tenant_id,
        version=call.body.version,
        accepted_by=call.body.accepted_by,
        now=call.now,
    )
    return AgreementDocument.of(tenant)


@api.route(
    "GET", "/v1/outsourcing/settings", summary="Outsourcing settings", permission=Permission.ALL
)
def get_settings(call: Call[None, None]) -> SettingsOut:
    return SettingsOut.of(get_tenant(call.container.tenants, call.tenant_id))


@api.route(
    "PUT",
    "/v1/outsourcing/settings",
    summary="Change outsourcing settings (fields left out stay as they are)",
    permission=Permission.ALL,
    errors=(409,),  # a race with another change was lost
)
def put_settings(call: Call[SettingsUpdate, None]) -> SettingsOut:
    tenant = outsourcing_setup.update_settings(
        call.container.tenants, call.tenant_id, call.body.model_dump(exclude_unset=True)
    )
    return SettingsOut.of(tenant)
