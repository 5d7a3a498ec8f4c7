"""Tenants: creation by the operator, and the tenant's own view of itself."""

from __future__ import annotations

from chalicelib.api.models.tenants import TenantCreate, TenantCreated, TenantOut
from chalicelib.api.routing import Api, Call
from chalicelib.service import tenants as tenant_service
from chalicelib.service.tenants import NewTenant

api = Api(__name__, "tenants")


@api.route(
    "POST",
    "/v1/admin/tenants",
    summary="Create a tenant and its first 'all' API key (operator)",
    status=201,
    auth="operator",
    idempotent=False,
)
def create_tenant(call: Call[TenantCreate, None]) -> TenantCreated:
    body = call.body
    created = tenant_service.create_tenant(
        call.container.tenants,
        NewTenant(
            name=body.name,
            language=body.language,
            currency=body.currency,
            contact_email=str(body.contact_email),
            now=call.now,
        ),
    )
    return TenantCreated.of(created)


@api.route("GET", "/v1/tenant", summary="The caller's tenant")
def get_tenant(call: Call[None, None]) -> TenantOut:
    return TenantOut.of(tenant_service.get_tenant(call.container.tenants, call.tenant_id))
