"""Partner invitations, partnerships and the service partner's mapping."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from chalicelib.api.models.base import (
    EmailAddress,
    Id,
    Name,
    PageQuery,
    RequestModel,
    ResponseModel,
    ShortText,
)
from chalicelib.domain.clock import iso, iso_or_none
from chalicelib.domain.outsourcing import OutsourceStatus
from chalicelib.domain.partners import Invitation, PartnerMapping, Partnership, status_map_with
from chalicelib.domain.tickets import TicketStatus
from chalicelib.ports import Page
from chalicelib.service.partners import IssuedInvitation


class InvitationCreate(RequestModel):
    email: EmailAddress
    company_name: Name
    tenant_id: Id | None = Field(
        None, description="The invited tenant, when known: only it may accept."
    )


class _InvitationFields(ResponseModel):
    id: str
    status: str
    email: str
    company_name: str
    tenant_id: str | None
    expires_at: str
    created_at: str
    created_by: str
    partnership_id: str | None
    sent_count: int
    email_status: str


def _invitation(invitation: Invitation, now: datetime) -> dict[str, Any]:
    return {
        "id": invitation.invitation_id,
        "status": invitation.status_at(now).value,
        "email": invitation.email,
        "company_name": invitation.company_name,
        "tenant_id": invitation.target_tenant_id,
        "expires_at": iso(invitation.expires_at),
        "created_at": iso(invitation.created_at),
        "created_by": invitation.created_by,
        "partnership_id": invitation.partnership_id,
        "sent_count": invitation.sent_count,
        "email_status": invitation.email_status,
    }


class InvitationOut(_InvitationFields):
    @classmethod
    def of(cls, invitation: Invitation, now: datetime) -> InvitationOut:
        """As seen at ``now``: a pending invitation past its expiry is ``expired``."""
        return cls(**_invitation(invitation, now))


class InvitationCreated(_InvitationFields):
    token: str | None = Field(
        description="Shown only in this first response (and emailed); stored only as a hash "
        "(null when the response is an Idempotency-Key replay)."
    )

    @classmethod
    def of(cls, issued: IssuedInvitation, now: datetime) -> InvitationCreated:
        return cls(**_invitation(issued.invitation, now), token=issued.token)


class InvitationList(ResponseModel):
    items: list[InvitationOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Invitation], now: datetime) -> InvitationList:
        return cls(
            items=[InvitationOut.of(i, now) for i in page.items], next_cursor=page.next_cursor
        )


class InvitationToken(RequestModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class InvitationAccepted(ResponseModel):
    partnership_id: str
    role: str
    tenant_name: str
    status: str

    @classmethod
    def of(cls, partnership: Partnership) -> InvitationAccepted:
        return cls(
            partnership_id=partnership.partnership_id,
            role=partnership.role.value,
            tenant_name=partnership.partner_name,
            status=partnership.status.value,
        )


class InvitationDeclined(ResponseModel):
    id: str
    status: str

    @classmethod
    def of(cls, invitation: Invitation) -> InvitationDeclined:
        return cls(id=invitation.invitation_id, status=invitation.status.value)


class PartnerQuery(PageQuery):
    role: Literal["service", "lead"] | None = None


class PartnershipOut(ResponseModel):
    partnership_id: str
    role: str = Field(
        description="The other tenant's role: 'service' (I outsource to it) or 'lead'."
    )
    tenant_id: str
    tenant_name: str
    status: str
    created_at: str
    deactivated_at: str | None

    @classmethod
    def of(cls, partnership: Partnership) -> PartnershipOut:
        return cls(
            partnership_id=partnership.partnership_id,
            role=partnership.role.value,
            tenant_id=partnership.partner_tenant_id,
            tenant_name=partnership.partner_name,
            status=partnership.status.value,
            created_at=iso(partnership.created_at),
            deactivated_at=iso_or_none(partnership.deactivated_at),
        )


class PartnershipList(ResponseModel):
    items: list[PartnershipOut]
    next_cursor: str | None

    @classmethod
    def of(cls, page: Page[Partnership]) -> PartnershipList:
        return cls(items=[PartnershipOut.of(p) for p in page.items], next_cursor=page.next_cursor)


MappableStatus = Literal["in_progress", "waiting_approval", "complete", "recalled"]


class MappingBody(RequestModel):
    organization: ShortText | None = None
    queue: ShortText | None = None
    work_type: ShortText | None = None
    resource: ShortText | None = None
    status_map: dict[MappableStatus, TicketStatus] | None = Field(
        None, description="Outsource status to local ticket status; missing ones use defaults."
    )

    def to_mapping(self) -> PartnerMapping:
        """The mapping asked for: status_map entries left out keep their defaults."""
        return PartnerMapping(
            organization=self.organization,
            queue=self.queue,
            work_type=self.work_type,
            resource=self.resource,
            status_map=status_map_with(
                {OutsourceStatus(k): v for k, v in (self.status_map or {}).items()}
            ),
        )


class MappingOut(ResponseModel):
    partnership_id: str
    organization: str | None
    queue: str | None
    work_type: str | None
    resource: str | None
    status_map: dict[str, TicketStatus]

    @classmethod
    def of(cls, partnership_id: str, mapping: PartnerMapping) -> MappingOut:
        return cls(
            partnership_id=partnership_id,
            organization=mapping.organization,
            queue=mapping.queue,
            work_type=mapping.work_type,
            resource=mapping.resource,
            status_map={k.value: v for k, v in mapping.status_map.items()},
        )
