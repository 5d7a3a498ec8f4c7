"""Tenants (one provider's instance) and credential permission levels."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain.errors import PermissionDeniedError
from chalicelib.domain.fees import FeePlan
from chalicelib.domain.notifications import NotificationEvent


class Permission(enum.StrEnum):
    """Outsourcing permission of a credential, each level including the ones before it.

    ``none`` sees what was outsourced and to whom; ``outsource`` may outsource;
    ``partner_management`` also manages partners, subcontractors, networks and dashboards;
    ``all`` also the agreement, settings, credentials and fees.
    """

    NONE = "none"
    OUTSOURCE = "outsource"
    PARTNER_MANAGEMENT = "partner_management"
    ALL = "all"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def includes(self, required: Permission) -> bool:
        return self.rank >= required.rank


_RANK = {
    Permission.NONE: 0,
    Permission.OUTSOURCE: 1,
    Permission.PARTNER_MANAGEMENT: 2,
    Permission.ALL: 3,
}


def require_permission(held: Permission, required: Permission) -> None:
    """Refuse (403) when ``held`` does not include ``required``."""
    if not held.includes(required):
        raise PermissionDeniedError(
            f"This action needs the '{required.value}' permission; the credential has "
            f"'{held.value}'."
        )


@dataclass(frozen=True, slots=True)
class AgreementAcceptance:
    """Who accepted which version of the Outsource Agreement, and when."""

    by: str
    at: datetime
    version: str


DEFAULT_INVITATION_SUBJECT = (
    "{{ inviter }} invites {{ company_name }} to work on outsourced tickets"
)
DEFAULT_INVITATION_BODY = """Hello,

{{ inviter }} invites {{ company_name }} to become a service partner: tickets they outsource to
you will appear in your tenant, and both copies stay synchronized while the work is open.

To accept, a user of your tenant with the partner management permission sends this token to the
service (POST /v1/partner-invitations/accept with {"token": "..."}):

    {{ token }}

The invitation expires on {{ expires_at }}. If you did not expect it, you can ignore this message.
"""
INVITATION_PLACEHOLDERS = frozenset({"inviter", "company_name", "email", "token", "expires_at"})


@dataclass(frozen=True, slots=True)
class OutsourcingSettings:
    """A tenant's outsourcing settings besides the ``enabled`` switch."""

    invitation_subject: str = DEFAULT_INVITATION_SUBJECT
    invitation_template: str = DEFAULT_INVITATION_BODY
    invitation_expiry_days: int = 14
    # Who is told about each outsourcing event; an event left out goes to the primary contact,
    # an empty list to nobody.
    notification_addresses: Mapping[NotificationEvent, tuple[str, ...]] = field(
        default_factory=dict
    )


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    name: str
    language: str
    currency: str
    contact_email: str
    created_at: datetime
    outsourcing_enabled: bool = False
    agreement: AgreementAcceptance | None = None
    active_all_keys: int = 0
    settings: OutsourcingSettings = field(default_factory=OutsourcingSettings)
    version: int = 1
    fee_plan: FeePlan | None = None  # set by the operator; prices each portal acceptance


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A tenant credential. Only the SHA-256 of the secret is ever stored."""

    tenant_id: str
    key_id: str
    name: str
    permission: Permission
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts in a use case: the tenant, the credential's permission level, and the label
    recorded as author (``created_by``, history)."""

    tenant_id: str
    permission: Permission = Permission.ALL
    label: str = ""

    def require(self, permission: Permission) -> None:
        """Refuse (403) unless this actor's permission includes ``permission``."""
        require_permission(self.permission, permission)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a tenant credential, or the operator."""

    tenant_id: str | None
    key_id: str | None
    permission: Permission
    operator: bool = False
    name: str = ""
