"""The lead's side of subcontracting: adding a company (or linking an existing one), listing its
subcontractors, and ending a relationship.

Adding a company creates its admin user with a one-time activation link, emailed through SES
and returned once (its secret is never stored: only its hash, and never in an idempotency
record). When the admin email already belongs to a company's administrator, the lead is linked to
that company instead, and its admin is told by email; no link is issued.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain import agreement
from chalicelib.domain.errors import NotFoundError, ValidationError
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.subcontractors import (
    Company,
    LinkPurpose,
    LinkStatus,
    OneTimeLink,
    PortalUser,
    SubcontractorLink,
    UserStatus,
    check_may_add_company_user,
)
from chalicelib.domain.tenants import Actor
from chalicelib.observability import count, logger
from chalicelib.ports import (
    Email,
    IdentityProvider,
    Mailer,
    Page,
    Paging,
    PortalUserRepository,
    SubcontractorRepository,
    TenantRepository,
)
from chalicelib.service.outbound_mail import Allowance, reserve

LINK_PREFIX = "pl_"
_LINK_SECRET = 32  # secrets.token_urlsafe(24): 192 bits
LINK_TOKEN_LEN = len(LINK_PREFIX) + 26 + 26 + _LINK_SECRET
ACTIVATION_DAYS = 7
RESET_HOURS = 2


@dataclass(frozen=True, slots=True)
class PortalAccess:
    """How the portal is reached and how users get their links."""

    identities: IdentityProvider
    mailer: Mailer
    allowance: Allowance
    portal_url: str  # the portal's public address, e.g. https://host/api/portal


@dataclass(frozen=True, slots=True)
class SubcontractorPorts:
    tenants: TenantRepository
    subcontractors: SubcontractorRepository
    users: PortalUserRepository
    access: PortalAccess


@dataclass(frozen=True, slots=True)
class AddSubcontractor:
    actor: Actor
    company_name: str
    admin_email: str
    now: datetime


@dataclass(frozen=True, slots=True)
class AddedSubcontractor:
    link: SubcontractorLink
    activation_url: str | None  # shown once; None when an existing company was linked


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(
    users: PortalUserRepository,
    access: PortalAccess,
    user: PortalUser,
    purpose: LinkPurpose,
    now: datetime,
) -> str:
    """A new one-time link for the user (replacing the earlier one of that purpose); returns its
    URL, which holds the only copy of the secret."""
    token = LINK_PREFIX + user.company_id + user.user_id + secrets.token_urlsafe(24)
    activating = purpose is LinkPurpose.ACTIVATE
    lifetime = timedelta(days=ACTIVATION_DAYS) if activating else timedelta(hours=RESET_HOURS)
    users.put_link(
        OneTimeLink(
            company_id=user.company_id,
            user_id=user.user_id,
            purpose=purpose,
            token_hash=hash_token(token),
            expires_at=now + lifetime,
            created_at=now,
        )
    )
    page = "activate" if purpose is LinkPurpose.ACTIVATE else "reset"
    return f"{access.portal_url.rstrip('/')}/{page}?token={token}"


def add_subcontractor(ports: SubcontractorPorts, cmd: AddSubcontractor) -> AddedSubcontractor:
    """Add a subcontractor company for the lead (or link the company its admin email already
    administers)."""
    lead = ports.tenants.get(cmd.actor.tenant_id)
    agreement.ensure_outsourcing_allowed(lead)
    email = cmd.admin_email.strip().lower()
    existing = ports.users.find_by_email(email)
    if existing is not None:
        check_may_add_company_user(existing)
    reserve(ports.access.allowance, lead.tenant_id, cmd.now)
    link = SubcontractorLink(
        lead_tenant_id=lead.tenant_id,
        subcontractor_id=new_id(),
        company_id=existing.company_id if existing else new_id(),
        company_name=cmd.company_name,
        admin_email=email,
        status=LinkStatus.ACTIVE,
        created_at=cmd.now,
        created_by=cmd.actor.label,
    )
    if existing is not None:
        company = ports.subcontractors.get_company(existing.company_id)
        link = dataclasses.replace(link, company_name=company.name)
        ports.subcontractors.add_link(link)
        subject = f"{lead.name} added {company.name} as a subcontractor"
        _send(ports, email, subject, _linked(lead.name))
        count("SubcontractorLinked")
        return AddedSubcontractor(link=link, activation_url=None)
    admin = PortalUser(
        company_id=link.company_id,
        user_id=new_id(),
        email=email,
        name=email.split("@", 1)[0],
        status=UserStatus.INVITED,
        created_at=cmd.now,
        admin=True,
        can_accept=True,
    )
    company = Company(company_id=link.company_id, name=cmd.company_name, created_at=cmd.now)
    try:
        ports.access.identities.create_user(email)
    except ValidationError as exc:  # the address the pool refuses is the request's admin_email
        raise ValidationError(exc.message, field="admin_email") from exc
    ports.subcontractors.create_company(company, admin, link)
    url = issue_link(ports.users, ports.access, admin, LinkPurpose.ACTIVATE, cmd.now)
    subject = f"{lead.name} invites {company.name} to its Subcontractor Portal"
    _send(ports, email, subject, _welcome(lead.name, url))
    logger.info(
        "subcontractor added",
        extra={"tenant_id": lead.tenant_id, "subcontractor_id": link.subcontractor_id},
    )
    count("SubcontractorAdded")
    return AddedSubcontractor(link=link, activation_url=url)


def _welcome(lead_name: str, url: str) -> str:
    return (
        f"Hello,\n\n{lead_name} will send you work through its Subcontractor Portal.\n"
        f"Set your password to sign in (the link works once, for {ACTIVATION_DAYS} days):\n\n"
        f"    {url}\n\nIf you did not expect this, you can ignore this message.\n"
    )


def _linked(lead_name: str) -> str:
    return (
        f"Hello,\n\n{lead_name} will now also send your company work through the Subcontractor "
        "Portal. Sign in as usual: its tickets appear beside the others.\n"
    )


def _send(ports: SubcontractorPorts, to: str, subject: str, text: str) -> None:
    try:
        ports.access.mailer.send(Email(to=[to], subject=subject, text=text))
    except Exception:  # the link was also returned to the lead, who can pass it on
        logger.exception("portal email failed")


def get_subcontractor(
    ports: SubcontractorPorts, lead_tenant_id: str, subcontractor_id: str
) -> SubcontractorLink:
    """One of the lead's subcontractors; anything else (another lead's) is not found."""
    if not is_id(subcontractor_id):
        raise NotFoundError("No such subcontractor.")
    return ports.subcontractors.get_link(lead_tenant_id, subcontractor_id)


def list_subcontractors(
    ports: SubcontractorPorts, lead_tenant_id: str, paging: Paging
) -> Page[SubcontractorLink]:
    """The lead's subcontractors, newest first (never another lead's)."""
    return ports.subcontractors.list_links(lead_tenant_id, paging.limit, paging.cursor)


def deactivate_subcontractor(
    ports: SubcontractorPorts, lead_tenant_id: str, subcontractor_id: str, now: datetime
) -> SubcontractorLink:
    """No new outsourcings to the company; the open ones go on."""
    link = get_subcontractor(ports, lead_tenant_id, subcontractor_id)
    ended = ports.subcontractors.deactivate_link(link, now)
    count("SubcontractorDeactivated")
    return ended
