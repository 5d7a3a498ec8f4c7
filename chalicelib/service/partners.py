"""Partner invitations, partnerships and the service partner's mapping.

An invitation token looks like ``pi_<lead tenant id><invitation id><secret>`` (the secret is 192
random bits): accepting is one GetItem in the lead's partition, and only the SHA-256 of the whole
token is stored. Resending replaces the hash, so the old token stops working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain import agreement
from chalicelib.domain.clock import iso
from chalicelib.domain.errors import ConflictError, NotFoundError, RuleViolationError
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.partners import (
    Invitation,
    InvitationStatus,
    PartnerMapping,
    PartnerRole,
    Partnership,
    PartnershipStatus,
    check_can_partner,
    check_deactivatable,
    check_resendable,
    check_revocable,
    check_same_language,
    check_status_map,
    check_token_usable,
)
from chalicelib.domain.tenants import Actor, Tenant
from chalicelib.observability import count, logger
from chalicelib.ports import (
    Email,
    InvitationRepository,
    Mailer,
    Page,
    Paging,
    PartnershipRepository,
    TenantRepository,
)
from chalicelib.service.email_templates import render_template
from chalicelib.service.outbound_mail import Allowance, reserve

TOKEN_PREFIX = "pi_"  # noqa: S105 - a prefix, not a secret
_SECRET_LEN = 32  # secrets.token_urlsafe(24): 192 bits
TOKEN_LEN = len(TOKEN_PREFIX) + 26 + 26 + _SECRET_LEN


@dataclass(frozen=True, slots=True)
class PartnerPorts:
    tenants: TenantRepository
    invitations: InvitationRepository
    partnerships: PartnershipRepository
    mailer: Mailer
    allowance: Allowance  # the tenant's outbound emails per day


@dataclass(frozen=True, slots=True)
class InvitePartner:
    """Invite a provider by email and company name; ``target_tenant_id`` when it is known."""

    actor: Actor
    email: str
    company_name: str
    target_tenant_id: str | None
    now: datetime


@dataclass(frozen=True, slots=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # shown once


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(lead_tenant_id: str, invitation_id: str) -> str:
    return TOKEN_PREFIX + lead_tenant_id + invitation_id + secrets.token_urlsafe(24)


def _invalid_token() -> RuleViolationError:
    return RuleViolationError("This invitation token is not valid.", code="invitation_invalid")


def _send_invitation(mailer: Mailer, lead: Tenant, invitation: Invitation, token: str) -> str:
    """Email the invitation with the lead's template; returns the delivery status."""
    values = {
        "inviter": lead.name,
        "company_name": invitation.company_name,
        "email": invitation.email,
        "token": token,
        "expires_at": iso(invitation.expires_at),
    }
    try:
        mailer.send(
            Email(
                to=[invitation.email],
                subject=render_template(lead.settings.invitation_subject, values).strip(),
                text=render_template(lead.settings.invitation_template, values),
            )
        )
    except Exception:  # the invitation stands; the token is also in the API response
        logger.exception(
            "invitation email failed",
            extra={"tenant_id": lead.tenant_id, "invitation_id": invitation.invitation_id},
        )
        return "failed"
    return "sent"


def create_invitation(ports: PartnerPorts, cmd: InvitePartner) -> IssuedInvitation:
    """Invite a provider to become a service partner; emails the token (shown once)."""
    lead_tenant_id, target_tenant_id, now = cmd.actor.tenant_id, cmd.target_tenant_id, cmd.now
    tenants, invitations = ports.tenants, ports.invitations
    lead = tenants.get(lead_tenant_id)
    agreement.ensure_outsourcing_allowed(lead)
    if target_tenant_id is not None:
        if target_tenant_id == lead_tenant_id:
            raise RuleViolationError(
                "A tenant cannot become its own partner.", code="self_partnership"
            )
        # The target is known: refuse a language mismatch now rather than at acceptance.
        try:
            target = tenants.get(target_tenant_id) if is_id(target_tenant_id) else None
        except NotFoundError:
            target = None
        if target is None:
            raise NotFoundError("No such tenant.", field="tenant_id")
        check_same_language(lead, target)
    invitation_id = new_id()
    token = _new_token(lead_tenant_id, invitation_id)
    invitation = Invitation(
        lead_tenant_id=lead_tenant_id,
        invitation_id=invitation_id,
        email=cmd.email,
        company_name=cmd.company_name,
        token_hash=_hash(token),
        status=InvitationStatus.PENDING,
        expires_at=now + timedelta(days=lead.settings.invitation_expiry_days),
        created_at=now,
        created_by=cmd.actor.label,
        target_tenant_id=target_tenant_id,
        email_status="pending",
    )
    reserve(ports.allowance, lead_tenant_id, now)  # past the day's emails nothing is created
    invitations.add(invitation)
    status = _send_invitation(ports.mailer, lead, invitation, token)
    invitation = invitations.update(invitation, {"email_status": status})
    logger.info(
        "partner invited", extra={"tenant_id": lead_tenant_id, "invitation_id": invitation_id}
    )
    count("PartnerInvited")
    return IssuedInvitation(invitation=invitation, token=token)


def get_invitation(ports: PartnerPorts, lead_tenant_id: str, invitation_id: str) -> Invitation:
    """One of the lead's invitations; anything else is not found."""
    if not is_id(invitation_id):
        raise NotFoundError("No such invitation.")
    return ports.invitations.get(lead_tenant_id, invitation_id)


def list_invitations(ports: PartnerPorts, lead_tenant_id: str, paging: Paging) -> Page[Invitation]:
    """The lead's invitations, newest first."""
    return ports.invitations.list(lead_tenant_id, paging.limit, paging.cursor)


def revoke_invitation(
    ports: PartnerPorts, lead_tenant_id: str, invitation_id: str, now: datetime
) -> Invitation:
    """Withdraw a pending invitation: its token stops working."""
    invitation = get_invitation(ports, lead_tenant_id, invitation_id)
    check_revocable(invitation, now)
    try:
        return ports.invitations.update(
            invitation, {"status": InvitationStatus.REVOKED, "resolved_at": now}
        )
    except ConflictError as exc:
        raise ConflictError(
            "The invitation was used or changed meanwhile.", code="invalid_transition"
        ) from exc


def resend_invitation(
    ports: PartnerPorts, lead_tenant_id: str, invitation_id: str, now: datetime
) -> IssuedInvitation:
    """Issue a new token with a new expiry and email it; the old token is dead from now on."""
    invitations = ports.invitations
    lead = ports.tenants.get(lead_tenant_id)
    agreement.ensure_outsourcing_allowed(lead)
    invitation = get_invitation(ports, lead_tenant_id, invitation_id)
    check_resendable(invitation, now)
    reserve(ports.allowance, lead_tenant_id, now)
    token = _new_token(lead_tenant_id, invitation_id)
    try:
        renewed = invitations.update(
            invitation,
            {
                "token_hash": _hash(token),
                "expires_at": now + timedelta(days=lead.settings.invitation_expiry_days),
                "sent_count": invitation.sent_count + 1,
                "email_status": "pending",
            },
        )
    except ConflictError as exc:
        raise ConflictError(
            "The invitation was used or changed meanwhile.", code="invalid_transition"
        ) from exc
    status = _send_invitation(ports.mailer, lead, renewed, token)
    renewed = invitations.update(renewed, {"email_status": status})
    count("PartnerInvitationResent")
    return IssuedInvitation(invitation=renewed, token=token)


def _find_by_token(invitations: InvitationRepository, token: str) -> Invitation:
    """The invitation a token belongs to, if the token is genuine (current hash)."""
    if len(token) != TOKEN_LEN or not token.startswith(TOKEN_PREFIX):
        raise _invalid_token()
    lead_id = token[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + 26]
    invitation_id = token[len(TOKEN_PREFIX) + 26 : len(TOKEN_PREFIX) + 52]
    if not (is_id(lead_id) and is_id(invitation_id)):
        raise _invalid_token()
    try:
        invitation = invitations.get(lead_id, invitation_id)
    except NotFoundError as exc:
        raise _invalid_token() from exc
    if not hmac.compare_digest(invitation.token_hash, _hash(token)):
        # An old token after a resend, or a forged one.
        raise _invalid_token()
    return invitation


def accept_invitation(
    ports: PartnerPorts, receiver_tenant_id: str, token: str, now: datetime
) -> Partnership:
    """The receiving tenant accepts: both sides of a new active partnership are created.

    Exactly one of two racing acceptances wins (the invitation update is conditional on it still
    being pending with this token), and a pair of tenants has at most one active partnership.
    """
    invitations = ports.invitations
    invitation = _find_by_token(invitations, token)
    check_token_usable(invitation, now)
    lead = ports.tenants.get(invitation.lead_tenant_id)
    receiver = ports.tenants.get(receiver_tenant_id)
    check_can_partner(lead, receiver, invitation)
    partnership_id = new_id()
    common = {
        "partnership_id": partnership_id,
        "status": PartnershipStatus.ACTIVE,
        "created_at": now,
        "lead_tenant_id": lead.tenant_id,
        "service_tenant_id": receiver.tenant_id,
        "invitation_id": invitation.invitation_id,
    }
    lead_side = Partnership(
        tenant_id=lead.tenant_id,
        role=PartnerRole.SERVICE,
        partner_tenant_id=receiver.tenant_id,
        partner_name=receiver.name,
        **common,  # type: ignore[arg-type]
    )
    service_side = Partnership(
        tenant_id=receiver.tenant_id,
        role=PartnerRole.LEAD,
        partner_tenant_id=lead.tenant_id,
        partner_name=lead.name,
        mapping=PartnerMapping(),
        **common,  # type: ignore[arg-type]
    )
    try:
        invitations.accept(invitation, lead_side, service_side)
    except ConflictError as exc:
        if exc.code == "already_exists":
            raise ConflictError(
                f"'{receiver.name}' is already an active service partner of '{lead.name}'.",
                code="already_exists",
            ) from exc
        # Lost a race: tell the loser what the winner did to the invitation.
        check_token_usable(
            invitations.get(invitation.lead_tenant_id, invitation.invitation_id), now
        )
        raise _invalid_token() from exc
    logger.info(
        "partnership created",
        extra={"tenant_id": receiver_tenant_id, "partnership_id": partnership_id},
    )
    count("PartnershipCreated")
    return service_side


def decline_invitation(
    ports: PartnerPorts, receiver_tenant_id: str, token: str, now: datetime
) -> Invitation:
    """The receiving tenant declines: the token is used up."""
    invitations = ports.invitations
    invitation = _find_by_token(invitations, token)
    check_token_usable(invitation, now)
    if invitation.target_tenant_id and invitation.target_tenant_id != receiver_tenant_id:
        raise RuleViolationError(
            "This invitation was issued to another tenant.", code="invitation_for_another_tenant"
        )
    try:
        declined = invitations.update(
            invitation,
            {
                "status": InvitationStatus.DECLINED,
                "resolved_at": now,
                "accepted_by_tenant_id": receiver_tenant_id,
            },
        )
    except ConflictError as exc:
        check_token_usable(
            invitations.get(invitation.lead_tenant_id, invitation.invitation_id), now
        )
        raise _invalid_token() from exc
    count("PartnerInvitationDeclined")
    return declined


def get_partnership(ports: PartnerPorts, tenant_id: str, partnership_id: str) -> Partnership:
    """This tenant's side of a partnership; anything else is not found."""
    if not is_id(partnership_id):
        raise NotFoundError("No such partnership.")
    return ports.partnerships.get(tenant_id, partnership_id)


def list_partnerships(
    ports: PartnerPorts, tenant_id: str, role: PartnerRole | None, paging: Paging
) -> Page[Partnership]:
    """This tenant's partnerships. Only its own copies are read: a lead's service partners never
    learn of each other."""
    return ports.partnerships.list(tenant_id, role, paging.limit, paging.cursor)


def deactivate_partnership(
    ports: PartnerPorts, tenant_id: str, partnership_id: str, now: datetime
) -> Partnership:
    """Either side ends the partnership: no new outsourcings; open ones run to their end."""
    partnership = get_partnership(ports, tenant_id, partnership_id)
    check_deactivatable(partnership)
    ended = ports.partnerships.deactivate(partnership, tenant_id, now)
    logger.info(
        "partnership deactivated",
        extra={"tenant_id": tenant_id, "partnership_id": partnership_id},
    )
    count("PartnershipDeactivated")
    return ended


def _service_side(ports: PartnerPorts, tenant_id: str, partnership_id: str) -> Partnership:
    partnership = get_partnership(ports, tenant_id, partnership_id)
    if partnership.role is not PartnerRole.LEAD:
        # Only the service partner files received work; the lead has no mapping to see.
        raise NotFoundError(
            "This tenant is the lead in this partnership; the mapping belongs to the service "
            "partner."
        )
    return partnership


def get_mapping(ports: PartnerPorts, tenant_id: str, partnership_id: str) -> PartnerMapping:
    """How this service partner files work from that lead (defaults until changed)."""
    return _service_side(ports, tenant_id, partnership_id).mapping or PartnerMapping()


def set_mapping(
    ports: PartnerPorts, tenant_id: str, partnership_id: str, mapping: PartnerMapping
) -> PartnerMapping:
    """Replace the mapping; allowed at any time, also while the partnership is inactive."""
    check_status_map(mapping.status_map)
    partnership = _service_side(ports, tenant_id, partnership_id)
    updated = ports.partnerships.set_mapping(partnership, mapping)
    return updated.mapping or mapping
