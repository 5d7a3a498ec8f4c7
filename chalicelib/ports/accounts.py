"""Ports of tenants, their credentials, and partner invitations and partnerships."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.partners import Invitation, PartnerMapping, PartnerRole, Partnership
from chalicelib.domain.tenants import ApiKey, Tenant
from chalicelib.ports.common import Page


class TenantRepository(Protocol):
    def create_with_key(self, tenant: Tenant, key: ApiKey) -> None:
        """Store a new tenant together with its first ``all`` key, atomically."""

    def get(self, tenant_id: str) -> Tenant:
        """The tenant, or ``NotFoundError``."""

    def update(self, tenant: Tenant, changes: Mapping[str, Any]) -> Tenant:
        """Apply ``changes`` (outsourcing_enabled, agreement, settings) if the version still
        matches, else ``ConflictError(version_conflict)``."""


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey) -> None:
        """Store a new key (and count it when it is an ``all`` key), atomically."""

    def get(self, tenant_id: str, key_id: str) -> ApiKey:
        """The key (active or revoked), or ``NotFoundError``."""

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> Page[ApiKey]:
        """The tenant's keys, oldest first."""

    def revoke(self, key: ApiKey, at: datetime) -> ApiKey:
        """Revoke an active key. Revoking the last active ``all`` key raises ``ConflictError``."""


class InvitationRepository(Protocol):
    def add(self, invitation: Invitation) -> None:
        """Store a new invitation in the lead tenant's partition."""

    def get(self, lead_tenant_id: str, invitation_id: str) -> Invitation:
        """The invitation, or ``NotFoundError``."""

    def list(self, lead_tenant_id: str, limit: int, cursor: str | None) -> Page[Invitation]:
        """The lead's invitations, newest first."""

    def update(self, invitation: Invitation, changes: Mapping[str, Any]) -> Invitation:
        """Apply ``changes`` while the invitation is still pending with the same token hash;
        otherwise ``ConflictError(version_conflict)``."""

    def accept(self, invitation: Invitation, lead: Partnership, service: Partnership) -> None:
        """Atomically: mark the invitation accepted (still pending, same token), and create both
        sides of the partnership, unless the pair already has an active partnership
        (``ConflictError(already_exists)``). A lost race on the invitation is
        ``ConflictError(version_conflict)``."""


class PartnershipRepository(Protocol):
    def get(self, tenant_id: str, partnership_id: str) -> Partnership:
        """This tenant's side of a partnership, or ``NotFoundError``."""

    def list(
        self, tenant_id: str, role: PartnerRole | None, limit: int, cursor: str | None
    ) -> Page[Partnership]:
        """This tenant's partnerships, optionally by the other side's role; oldest first."""

    def deactivate(self, partnership: Partnership, by_tenant_id: str, at: datetime) -> Partnership:
        """Make both sides (and the pair record) inactive, atomically; ``ConflictError`` when
        already inactive."""

    def set_mapping(self, partnership: Partnership, mapping: PartnerMapping) -> Partnership:
        """Store the service partner's mapping on its side of the partnership."""
