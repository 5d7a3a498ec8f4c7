"""Tenant use cases: creation by the operator, reading by the tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.ids import new_id
from chalicelib.domain.tenants import Permission, Tenant
from chalicelib.observability import count, logger
from chalicelib.ports import TenantRepository
from chalicelib.service.api_keys import IssuedKey, mint_key


@dataclass(frozen=True, slots=True)
class NewTenant:
    name: str
    language: str
    currency: str
    contact_email: str
    now: datetime


@dataclass(frozen=True, slots=True)
class CreatedTenant:
    tenant: Tenant
    issued: IssuedKey


def create_tenant(tenants: TenantRepository, cmd: NewTenant) -> CreatedTenant:
    """Create a tenant and its first ``all`` API key (returned once, never stored in clear)."""
    tenant_id = new_id()
    issued = mint_key(
        tenant_id, name="Initial administrator key", permission=Permission.ALL, now=cmd.now
    )
    tenant = Tenant(
        tenant_id=tenant_id,
        name=cmd.name,
        language=cmd.language,
        currency=cmd.currency,
        contact_email=cmd.contact_email,
        created_at=cmd.now,
        active_all_keys=1,
    )
    tenants.create_with_key(tenant, issued.key)
    logger.info("tenant created", extra={"tenant_id": tenant_id})
    count("TenantCreated")
    return CreatedTenant(tenant=tenant, issued=issued)


def get_tenant(tenants: TenantRepository, tenant_id: str) -> Tenant:
    """The caller's own tenant."""
    return tenants.get(tenant_id)
