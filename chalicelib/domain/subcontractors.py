"""Subcontractor companies, their portal users, and their relationships with lead tenants.

A subcontractor company has no tenant: its users sign in to the hosted Subcontractor Portal.
It owns its data like a tenant does (its partition key is its id), so the work it receives is
stored exactly as a partner's is: its copy of each outsourcing and, once accepted, its own
ticket with its items, synchronised by the same engine.

* **One company, several leads.** A company is identified by its administrator's email: when a
  lead adds a subcontractor whose admin email already belongs to a portal administrator, the new
  relationship is with that existing company (no second account, no activation link: the admin
  signs in as before). An address that belongs to a portal user who is not an administrator is
  refused: the lead is asked for the administrator's address. Each lead has its own relationship
  (``SubcontractorLink``); no lead sees another's.
* **Users**: every user may work tickets assigned to them; ``can_accept`` users also see work
  awaiting acceptance and accept or decline it; ``admin`` users also manage the company's profile
  and users (and may do everything the others do).
* A lead may deactivate its relationship: no new outsourcings to that company; open ones go on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RuleViolationError,
)


class UserStatus(enum.StrEnum):
    INVITED = "invited"  # created, activation link sent, no password yet
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class LinkStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class LinkPurpose(enum.StrEnum):
    """What a one-time link lets its holder do: set a first password, or a new one."""

    ACTIVATE = "activate"
    RESET = "reset"


@dataclass(frozen=True, slots=True, kw_only=True)
class Company:
    company_id: str
    name: str
    created_at: datetime
    phone: str = ""
    address: str = ""
    website: str = ""
    version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PortalUser:
    company_id: str
    user_id: str
    email: str  # always lower-case: emails are compared case-insensitively
    name: str
    status: UserStatus
    created_at: datetime
    admin: bool = False
    can_accept: bool = False
    activated_at: datetime | None = None
    # Sessions started before this moment are over ("sign out everywhere", deactivation).
    sessions_valid_from: datetime | None = None
    version: int = 1

    @property
    def active(self) -> bool:
        return self.status is UserStatus.ACTIVE

    @property
    def may_accept(self) -> bool:
        """Sees work awaiting acceptance, and accepts or declines it."""
        return self.admin or self.can_accept


@dataclass(frozen=True, slots=True, kw_only=True)
class SubcontractorLink:
    """A lead's relationship with a subcontractor company (the lead's side; its id is the
    ``subcontractor_id`` of the API)."""

    lead_tenant_id: str
    subcontractor_id: str
    company_id: str
    company_name: str
    admin_email: str
    status: LinkStatus
    created_at: datetime
    created_by: str = ""
    deactivated_at: datetime | None = None
    version: int = 1

    @property
    def active(self) -> bool:
        return self.status is LinkStatus.ACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class OneTimeLink:
    """An activation or password-reset link: only its hash is stored; used once; expires."""

    company_id: str
    user_id: str
    purpose: LinkPurpose
    token_hash: str
    expires_at: datetime
    created_at: datetime
    used_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True, kw_only=True)
class PortalSession:
    """A signed-in browser: only the hash of its secret is stored."""

    company_id: str
    session_id: str
    user_id: str
    secret_hash: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # the absolute end, however active the session

    def alive(self, now: datetime, idle_seconds: int) -> bool:
        idle = (now - self.last_seen_at).total_seconds()
        return now < self.expires_at and idle < idle_seconds


def check_may_add_company_user(user: PortalUser) -> None:
    """Adding a subcontractor with this email: only a company's administrator stands for it."""
    if not (user.admin and user.status is not UserStatus.DEACTIVATED):
        raise ConflictError(
            "This email belongs to a portal user who is not their company's administrator; "
            "give the administrator's address.",
            code="email_in_use",
            field="admin_email",
        )


def check_link_allows_work(link: SubcontractorLink) -> None:
    if not link.active:
        raise RuleViolationError(
            "This subcontractor relationship is inactive: no new outsourcings.",
            code="subcontractor_inactive",
        )


def require_admin(user: PortalUser) -> None:
    if not user.admin:
        raise PermissionDeniedError("Only a company administrator may do this.")


def require_may_accept(user: PortalUser) -> None:
    if not user.may_accept:
        raise PermissionDeniedError("Accepting or declining work needs the can_accept permission.")


def check_colleague(actor: PortalUser, colleague: PortalUser) -> None:
    """A user acted upon must be of the actor's own company (anything else does not exist)."""
    if colleague.company_id != actor.company_id:
        raise NotFoundError("No such user.")


def check_not_self_demotion(actor: PortalUser, colleague: PortalUser, admin: bool) -> None:
    """An administrator cannot take away their own administration (the company would be left
    without one): another administrator does it."""
    if actor.user_id == colleague.user_id and not admin:
        raise RuleViolationError(
            "You cannot remove your own administrator role.", code="last_admin"
        )
