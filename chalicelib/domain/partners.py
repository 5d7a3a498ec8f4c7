"""Partner invitations, partnerships, and the service partner's mapping for a lead partner."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain.errors import ConflictError, RuleViolationError, ValidationError
from chalicelib.domain.outsourcing import OutsourceStatus
from chalicelib.domain.tenants import Tenant
from chalicelib.domain.tickets import TicketStatus

DEFAULT_INVITATION_DAYS = 14


class InvitationStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    REVOKED = "revoked"


class PartnerRole(enum.StrEnum):
    """The role of the *other* tenant in a partnership, seen from the tenant looking at it."""

    LEAD = "lead"  # the other tenant outsources to me
    SERVICE = "service"  # I outsource to the other tenant

    @property
    def opposite(self) -> PartnerRole:
        return PartnerRole.SERVICE if self is PartnerRole.LEAD else PartnerRole.LEAD


class PartnershipStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


@dataclass(frozen=True, slots=True, kw_only=True)
class Invitation:
    lead_tenant_id: str
    invitation_id: str
    email: str
    company_name: str
    token_hash: str
    status: InvitationStatus  # as stored: pending, accepted, declined or revoked
    expires_at: datetime
    created_at: datetime
    created_by: str = ""
    target_tenant_id: str | None = None
    partnership_id: str | None = None
    accepted_by_tenant_id: str | None = None
    resolved_at: datetime | None = None
    sent_count: int = 1
    email_status: str = "sent"
    version: int = 1

    def status_at(self, now: datetime) -> InvitationStatus:
        """The status a reader sees: a pending invitation past its expiry is ``expired``."""
        if self.status is InvitationStatus.PENDING and now >= self.expires_at:
            return InvitationStatus.EXPIRED
        return self.status


def check_token_usable(invitation: Invitation, now: datetime) -> None:
    """A token can be used (accept or decline) once, before it expires, unless revoked (422)."""
    status = invitation.status_at(now)
    if status is InvitationStatus.PENDING:
        return
    if status is InvitationStatus.EXPIRED:
        raise RuleViolationError(
            "This invitation has expired; ask the inviting provider to resend it.",
            code="invitation_expired",
        )
    if status is InvitationStatus.REVOKED:
        raise RuleViolationError(
            "This invitation was revoked by the inviting provider.", code="invitation_revoked"
        )
    raise RuleViolationError(
        f"This invitation was already {status.value}; a token can be used once.",
        code="invitation_used",
    )


def check_can_partner(lead: Tenant, receiver: Tenant, invitation: Invitation) -> None:
    """Rules for joining two tenants: not oneself, the named tenant only, the same language."""
    if lead.tenant_id == receiver.tenant_id:
        raise RuleViolationError("A tenant cannot become its own partner.", code="self_partnership")
    if invitation.target_tenant_id and invitation.target_tenant_id != receiver.tenant_id:
        raise RuleViolationError(
            "This invitation was issued to another tenant.", code="invitation_for_another_tenant"
        )
    check_same_language(lead, receiver)


def check_same_language(lead: Tenant, receiver: Tenant) -> None:
    if lead.language != receiver.language:
        raise RuleViolationError(
            f"Partners must work in the same language: '{lead.name}' uses '{lead.language}', "
            f"'{receiver.name}' uses '{receiver.language}'.",
            code="language_mismatch",
        )


def check_revocable(invitation: Invitation, now: datetime) -> None:
    if invitation.status is not InvitationStatus.PENDING:
        raise ConflictError(
            f"Only a pending invitation can be revoked; this one is "
            f"{invitation.status_at(now).value}.",
            code="invalid_transition",
        )


def check_resendable(invitation: Invitation, now: datetime) -> None:
    """Pending invitations (also expired ones) can be resent with a new token."""
    if invitation.status is not InvitationStatus.PENDING:
        raise ConflictError(
            f"Only a pending or expired invitation can be resent; this one is "
            f"{invitation.status_at(now).value}.",
            code="invalid_transition",
        )


# Statuses an insourced copy can be in, and the local ticket status each maps to by default.
DEFAULT_STATUS_MAP: dict[OutsourceStatus, TicketStatus] = {
    OutsourceStatus.IN_PROGRESS: TicketStatus.IN_PROGRESS,
    OutsourceStatus.WAITING_APPROVAL: TicketStatus.WAITING,
    OutsourceStatus.COMPLETE: TicketStatus.COMPLETE,
    OutsourceStatus.RECALLED: TicketStatus.COMPLETE,
}


def status_map_with(
    overrides: Mapping[OutsourceStatus, TicketStatus],
) -> dict[OutsourceStatus, TicketStatus]:
    """The default status map with the given entries replaced (the others keep defaults)."""
    return {**DEFAULT_STATUS_MAP, **overrides}


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerMapping:
    """How a service partner files work received from one lead partner."""

    organization: str | None = None
    queue: str | None = None
    work_type: str | None = None
    resource: str | None = None
    status_map: Mapping[OutsourceStatus, TicketStatus] = field(
        default_factory=lambda: dict(DEFAULT_STATUS_MAP)
    )

    def ticket_status_for(self, status: OutsourceStatus) -> TicketStatus | None:
        return self.status_map.get(status)


def check_status_map(status_map: Mapping[OutsourceStatus, TicketStatus]) -> None:
    """Only statuses an insourced ticket can have may be mapped."""
    for status in status_map:
        if status not in DEFAULT_STATUS_MAP:
            raise ValidationError(
                f"'{status.value}' is never the status of an insourced ticket; map only "
                f"{', '.join(s.value for s in DEFAULT_STATUS_MAP)}.",
                field=f"status_map.{status.value}",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Partnership:
    """One side's view of a partnership (each tenant holds its own copy)."""

    tenant_id: str
    partnership_id: str
    role: PartnerRole
    partner_tenant_id: str
    partner_name: str
    status: PartnershipStatus
    created_at: datetime
    lead_tenant_id: str
    service_tenant_id: str
    invitation_id: str | None = None
    deactivated_at: datetime | None = None
    deactivated_by_tenant_id: str | None = None
    mapping: PartnerMapping | None = None  # on the service partner's copy only
    version: int = 1

    @property
    def active(self) -> bool:
        return self.status is PartnershipStatus.ACTIVE


def check_deactivatable(partnership: Partnership) -> None:
    if not partnership.active:
        raise ConflictError("This partnership is already inactive.", code="invalid_transition")
