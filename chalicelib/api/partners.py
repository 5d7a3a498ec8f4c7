"""Partner invitations (lead side and receiver side), partnerships and mappings."""

from __future__ import annotations

from chalicelib.api.models.base import PageQuery
from chalicelib.api.models.partners import (
    InvitationAccepted,
    InvitationCreate,
    InvitationCreated,
    InvitationDeclined,
    InvitationList,
    InvitationOut,
    InvitationToken,
    MappingBody,
    MappingOut,
    PartnerQuery,
    PartnershipList,
    PartnershipOut,
)
from chalicelib.api.routing import Api, Call
from chalicelib.domain.partners import PartnerRole
from chalicelib.domain.tenants import Permission
from chalicelib.service import partners
from chalicelib.service.partners import InvitePartner

api = Api(__name__, "partners")


@api.route(
    "POST",
    "/v1/partner-invitations",
    summary="Invite a provider to become a service partner (token shown once, also emailed)",
    status=201,
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(404, 422),  # 404: no tenant with the tenant_id given
    secrets=("token",),
)
def create_invitation(call: Call[InvitationCreate, None]) -> InvitationCreated:
    body = call.body
    issued = partners.create_invitation(
        call.container.partner_ports,
        InvitePartner(
            actor=call.actor,
            email=str(body.email),
            company_name=body.company_name,
            target_tenant_id=body.tenant_id,
            now=call.now,
        ),
    )
    return InvitationCreated.of(issued, call.now)


@api.route(
    "GET",
    "/v1/partner-invitations",
    summary="This tenant's invitations, newest first",
    permission=Permission.PARTNER_MANAGEMENT,
)
def list_invitations(call: Call[None, PageQuery]) -> InvitationList:
    page = partners.list_invitations(
        call.container.partner_ports, call.tenant_id, call.query.paging
    )
    return InvitationList.of(page, call.now)


@api.route(
    "GET",
    "/v1/partner-invitations/{invitation_id}",
    summary="One invitation",
    permission=Permission.PARTNER_MANAGEMENT,
)
def get_invitation(call: Call[None, None]) -> InvitationOut:
    invitation = partners.get_invitation(
        call.container.partner_ports, call.tenant_id, call.params["invitation_id"]
    )
    return InvitationOut.of(invitation, call.now)


@api.route(
    "POST",
    "/v1/partner-invitations/{invitation_id}/revoke",
    summary="Revoke a pending invitation",
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(409,),
)
def revoke_invitation(call: Call[None, None]) -> InvitationOut:
    invitation = partners.revoke_invitation(
        call.container.partner_ports, call.tenant_id, call.params["invitation_id"], call.now
    )
    return InvitationOut.of(invitation, call.now)


@api.route(
    "POST",
    "/v1/partner-invitations/{invitation_id}/resend",
    summary="Resend with a new token and expiry; the old token stops working",
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(409, 422),
    secrets=("token",),
)
def resend_invitation(call: Call[None, None]) -> InvitationCreated:
    issued = partners.resend_invitation(
        call.container.partner_ports, call.tenant_id, call.params["invitation_id"], call.now
    )
    return InvitationCreated.of(issued, call.now)


@api.route(
    "POST",
    "/v1/partner-invitations/accept",
    summary="Accept an invitation with its token: this tenant becomes a service partner",
    status=201,
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(409, 422),  # 409: already partners
)
def accept_invitation(call: Call[InvitationToken, None]) -> InvitationAccepted:
    partnership = partners.accept_invitation(
        call.container.partner_ports, call.tenant_id, call.body.token, call.now
    )
    return InvitationAccepted.of(partnership)


@api.route(
    "POST",
    "/v1/partner-invitations/decline",
    summary="Decline an invitation with its token",
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(422,),
)
def decline_invitation(call: Call[InvitationToken, None]) -> InvitationDeclined:
    invitation = partners.decline_invitation(
        call.container.partner_ports, call.tenant_id, call.body.token, call.now
    )
    return InvitationDeclined.of(invitation)


@api.route(
    "GET",
    "/v1/partners",
    summary="This tenant's partnerships; role=service: my service partners, role=lead: my leads",
)
def list_partners(call: Call[None, PartnerQuery]) -> PartnershipList:
    query = call.query
    page = partners.list_partnerships(
        call.container.partner_ports,
        call.tenant_id,
        PartnerRole(query.role) if query.role else None,
        query.paging,
    )
    return PartnershipList.of(page)


@api.route("GET", "/v1/partners/{partnership_id}", summary="One partnership")
def get_partner(call: Call[None, None]) -> PartnershipOut:
    return PartnershipOut.of(
        partners.get_partnership(
            call.container.partner_ports, call.tenant_id, call.params["partnership_id"]
        )
    )


@api.route(
    "POST",
    "/v1/partners/{partnership_id}/deactivate",
    summary="End a partnership (either side): no new outsourcings, open ones run to their end",
    permission=Permission.PARTNER_MANAGEMENT,
    errors=(409,),
)
def deactivate_partner(call: Call[None, None]) -> PartnershipOut:
    return PartnershipOut.of(
        partners.deactivate_partnership(
            call.container.partner_ports, call.tenant_id, call.params["partnership_id"], call.now
        )
    )


@api.route(
    "GET",
    "/v1/partners/{partnership_id}/mapping",
    summary="How this service partner files work received from that lead",
)
def get_mapping(call: Call[None, None]) -> MappingOut:
    partnership_id = call.params["partnership_id"]
    mapping = partners.get_mapping(call.container.partner_ports, call.tenant_id, partnership_id)
    return MappingOut.of(partnership_id, mapping)


@api.route(
    "PUT",
    "/v1/partners/{partnership_id}/mapping",
    summary="Replace the mapping (status_map entries left out keep their defaults)",
    permission=Permission.PARTNER_MANAGEMENT,
)
def put_mapping(call: Call[MappingBody, None]) -> MappingOut:
    partnership_id = call.params["partnership_id"]
    saved = partners.set_mapping(
        call.container.partner_ports, call.tenant_id, partnership_id, call.body.to_mapping()
    )
    return MappingOut.of(partnership_id, saved)
