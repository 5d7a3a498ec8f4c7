"""Tenants: creation by the operator, and the tenant's own view of itself."""

from __future__ import annotations

from chalicelib.api.models import TenantCreate, TenantCreated, TenantOut
from chalicelib.api.routing import Api, Call
from chalicelib.service import tenants as tenant_service

api = Api(__name__, "tenants")


@api.route(
    "POST",
    "/v1/admin/tenants",
    summary="Create a tenant and its first 'all' API key (operator)",
    body=TenantCreate,
    response=TenantCreated,
    status=201,
    auth="operator",
    idempotent=False,
)
def create_tenant(call: Call) -> TenantCreated:
    body: TenantCreate = call.body
    created = tenant_service.create_tenant(
        call.container.tenants,
        name=body.name,
        language=body.language,
        currency=body.currency,
        contact_email=str(body.contact_email),
        now=call.now,
    )
    return TenantCreated(tenant_id=created.tenant.tenant_id, api_key=created.issued.token)


@api.route("GET", "/v1/tenant", summary="The caller's tenant", response=TenantOut)
def get_tenant(call: Call) -> TenantOut:
    return TenantOut.of(tenant_service.get_tenant(call.container.tenants, call.tenant_id))
