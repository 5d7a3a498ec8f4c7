"""Partner invitations (lead side and receiver side), partnerships and mappings."""

from __future__ import annotations

from datetime import datetime

from chalicelib.api.models import (
    InvitationAccepted,
    InvitationCreate,
    InvitationCreated,
    InvitationDeclined,
    InvitationList,
    InvitationOut,
    InvitationToken,
    MappingBody,
    MappingOut,
    PageQuery,
    PartnerQuery,
    PartnershipList,
    PartnershipOut,
)
from chalicelib.api.routing import Api, Call
from chalicelib.domain.clock import iso, iso_or_none
from chalicelib.domain.outsourcing import OutsourceStatus
from chalicelib.domain.partners import (
    Invitation,
    PartnerMapping,
    PartnerRole,
    Partnership,
    status_map_with,
)
from chalicelib.domain.tenants import Permission
from chalicelib.service import partners

api = Api(__name__, "partners")


def _invitation(invitation: Invitation, now: datetime) -> InvitationOut:
    return InvitationOut(
        id=invitation.invitation_id,
        status=invitation.status_at(now).value,
        email=invitation.email,
        company_name=invitation.company_name,
        tenant_id=invitation.target_tenant_id,
        expires_at=iso(invitation.expires_at),
        created_at=iso(invitation.created_at),
        created_by=invitation.created_by,
        partnership_id=invitation.partnership_id,
        sent_count=invitation.sent_count,
        email_status=invitation.email_status,
    )


def _partnership(partnership: Partnership) -> PartnershipOut:
    return PartnershipOut(
        partnership_id=partnership.partnership_id,
        role=partnership.role.value,
        tenant_id=partnership.partner_tenant_id,
        tenant_name=partnership.partner_name,
        status=partnership.status.value,
        created_at=iso(partnership.created_at),
        deactivated_at=iso_or_none(partnership.deactivated_at),
    )


def _mapping(partnership_id: str, mapping: PartnerMapping) -> MappingOut:
    return MappingOut(
        partnership_id=partnership_id,
        organization=mapping.organization,
        queue=mapping.queue,
        work_type=mapping.work_type,
        resource=mapping.resource,
        status_map={k.value: v for k, v in mapping.status_map.items()},
    )


@api.route(
    "POST",
    "/v1/partner-invitations",
    summary="Invite a provider to become a service partner (token shown once, also emailed)",
    body=InvitationCreate,
    response=InvitationCreated,
    status=201,
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(422,),
)
def create_invitation(call: Call) -> InvitationCreated:
    body: InvitationCreate = call.body
    issued = partners.create_invitation(
        call.container.tenants,
        call.container.invitations,
        call.container.mailer,
        call.tenant_id,
        email=str(body.email),
        company_name=body.company_name,
        target_tenant_id=body.tenant_id,
        created_by=call.actor,
        now=call.now,
    )
    out = _invitation(issued.invitation, call.now)
    return InvitationCreated(**out.model_dump(), token=issued.token)


@api.route(
    "GET",
    "/v1/partner-invitations",
    summary="This tenant's invitations, newest first",
    query=PageQuery,
    response=InvitationList,
    permission=Permission.PARTNER_MANAGEMENT,
)
def list_invitations(call: Call) -> InvitationList:
    query: PageQuery = call.query
    page = partners.list_invitations(
        call.container.invitations, call.tenant_id, query.limit, query.cursor
    )
    return InvitationList(
        items=[_invitation(i, call.now) for i in page.items], next_cursor=page.next_cursor
    )


@api.route(
    "GET",
    "/v1/partner-invitations/{invitation_id}",
    summary="One invitation",
    response=InvitationOut,
    permission=Permission.PARTNER_MANAGEMENT,
)
def get_invitation(call: Call) -> InvitationOut:
    invitation = partners.get_invitation(
        call.container.invitations, call.tenant_id, call.params["invitation_id"]
    )
    return _invitation(invitation, call.now)


@api.route(
    "POST",
    "/v1/partner-invitations/{invitation_id}/revoke",
    summary="Revoke a pending invitation",
    response=InvitationOut,
    permission=Permission.PARTNER_MANAGEMENT,
)
def revoke_invitation(call: Call) -> InvitationOut:
    invitation = partners.revoke_invitation(
        call.container.invitations, call.tenant_id, call.params["invitation_id"], call.now
    )
    return _invitation(invitation, call.now)


@api.route(
    "POST",
    "/v1/partner-invitations/{invitation_id}/resend",
    summary="Resend with a new token and expiry; the old token stops working",
    response=InvitationCreated,
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(422,),
)
def resend_invitation(call: Call) -> InvitationCreated:
    issued = partners.resend_invitation(
        call.container.tenants,
        call.container.invitations,
        call.container.mailer,
        call.tenant_id,
        call.params["invitation_id"],
        call.now,
    )
    out = _invitation(issued.invitation, call.now)
    return InvitationCreated(**out.model_dump(), token=issued.token)


@api.route(
    "POST",
    "/v1/partner-invitations/accept",
    summary="Accept an invitation with its token: this tenant becomes a service partner",
    body=InvitationToken,
    response=InvitationAccepted,
    status=201,
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(422,),
)
def accept_invitation(call: Call) -> InvitationAccepted:
    body: InvitationToken = call.body
    partnership = partners.accept_invitation(
        call.container.tenants, call.container.invitations, call.tenant_id, body.token, call.now
    )
    return InvitationAccepted(
        partnership_id=partnership.partnership_id,
        role=partnership.role.value,
        tenant_name=partnership.partner_name,
        status=partnership.status.value,
    )


@api.route(
    "POST",
    "/v1/partner-invitations/decline",
    summary="Decline an invitation with its token",
    body=InvitationToken,
    response=InvitationDeclined,
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(422,),
)
def decline_invitation(call: Call) -> InvitationDeclined:
    body: InvitationToken = call.body
    invitation = partners.decline_invitation(
        call.container.invitations, call.tenant_id, body.token, call.now
    )
    return InvitationDeclined(id=invitation.invitation_id, status=invitation.status.value)


@api.route(
    "GET",
    "/v1/partners",
    summary="This tenant's partnerships; role=service: my service partners, role=lead: my leads",
    query=PartnerQuery,
    response=PartnershipList,
)
def list_partners(call: Call) -> PartnershipList:
    query: PartnerQuery = call.query
    page = partners.list_partnerships(
        call.container.partnerships,
        call.tenant_id,
        PartnerRole(query.role) if query.role else None,
        query.limit,
        query.cursor,
    )
    return PartnershipList(
        items=[_partnership(p) for p in page.items], next_cursor=page.next_cursor
    )


@api.route(
    "GET",
    "/v1/partners/{partnership_id}",
    summary="One partnership",
    response=PartnershipOut,
)
def get_partner(call: Call) -> PartnershipOut:
    return _partnership(
        partners.get_partnership(
            call.container.partnerships, call.tenant_id, call.params["partnership_id"]
        )
    )


@api.route(
    "POST",
    "/v1/partners/{partnership_id}/deactivate",
    summary="End a partnership (either side): no new outsourcings, open ones run to their end",
    response=PartnershipOut,
    permission=Permission.PARTNER_MANAGEMENT,
)
def deactivate_partner(call: Call) -> PartnershipOut:
    return _partnership(
        partners.deactivate_partnership(
            call.container.partnerships, call.tenant_id, call.params["partnership_id"], call.now
        )
    )


@api.route(
    "GET",
    "/v1/partners/{partnership_id}/mapping",
    summary="How this service partner files work received from that lead",
    response=MappingOut,
)
def get_mapping(call: Call) -> MappingOut:
    partnership_id = call.params["partnership_id"]
    mapping = partners.get_mapping(call.container.partnerships, call.tenant_id, partnership_id)
    return _mapping(partnership_id, mapping)


@api.route(
    "PUT",
    "/v1/partners/{partnership_id}/mapping",
    summary="Replace the mapping (status_map entries left out keep their defaults)",
    body=MappingBody,
    response=MappingOut,
    permission=Permission.PARTNER_MANAGEMENT,
)
def put_mapping(call: Call) -> MappingOut:
    body: MappingBody = call.body
    mapping = PartnerMapping(
        organization=body.organization,
        queue=body.queue,
        work_type=body.work_type,
        resource=body.resource,
        status_map=status_map_with(
            {OutsourceStatus(k): v for k, v in (body.status_map or {}).items()}
        ),
    )
    partnership_id = call.params["partnership_id"]
    saved = partners.set_mapping(
        call.container.partnerships, call.tenant_id, partnership_id, mapping
    )
    return _mapping(partnership_id, saved)
