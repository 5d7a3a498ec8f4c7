"""Ports of the Subcontractor Portal: companies and leads' relationships, users, sessions,
sign-in throttles and the identity provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.subcontractors import (
    Company,
    LinkPurpose,
    OneTimeLink,
    PortalSession,
    PortalUser,
    SubcontractorLink,
)
from chalicelib.ports.common import Page


class SubcontractorRepository(Protocol):
    """Subcontractor companies and the leads' relationships with them."""

    def create_company(self, company: Company, admin: PortalUser, link: SubcontractorLink) -> None:
        """A new company, its first (admin) user and the lead's relationship, atomically;
        ``ConflictError(email_in_use)`` when the admin's email is taken (even by a racer)."""

    def add_link(self, link: SubcontractorLink) -> None:
        """Another lead's relationship with an existing company."""

    def get_company(self, company_id: str) -> Company:
        """The company, or ``NotFoundError``."""

    def update_company(self, company: Company, changes: Mapping[str, Any]) -> Company:
        """Change the profile if the version still matches (``ConflictError`` otherwise)."""

    def get_link(self, lead_tenant_id: str, subcontractor_id: str) -> SubcontractorLink:
        """The lead's relationship, or ``NotFoundError`` (also another lead's)."""

    def list_links(
        self, lead_tenant_id: str, limit: int, cursor: str | None
    ) -> Page[SubcontractorLink]:
        """The lead's relationships, newest first; one Query per page."""

    def deactivate_link(self, link: SubcontractorLink, at: datetime) -> SubcontractorLink:
        """Make the relationship inactive (``ConflictError`` when it already is)."""


class PortalUserRepository(Protocol):
    """Portal users, the email they sign in with, and their one-time links."""

    def add(self, user: PortalUser) -> None:
        """A new user of an existing company, atomically with its email's claim
        (``ConflictError(email_in_use)`` when the email is taken)."""

    def get(self, company_id: str, user_id: str) -> PortalUser:
        """The user, or ``NotFoundError``."""

    def find_by_email(self, email: str) -> PortalUser | None:
        """The user signing in with ``email`` (lower-case), if any."""

    def list(self, company_id: str, limit: int, cursor: str | None) -> Page[PortalUser]:
        """The company's users, oldest first; one Query per page."""

    def update(self, user: PortalUser, changes: Mapping[str, Any]) -> PortalUser:
        """Change the user if the version still matches (``ConflictError`` otherwise)."""

    def put_link(self, link: OneTimeLink) -> None:
        """Store a one-time link, replacing the user's earlier one of the same purpose."""

    def get_link(self, company_id: str, user_id: str, purpose: LinkPurpose) -> OneTimeLink:
        """The user's current link of that purpose, or ``NotFoundError``."""

    def use_link(self, link: OneTimeLink, at: datetime) -> None:
        """Mark the link used if it is still unused with the same hash (``ConflictError``
        otherwise: of two racing uses, one wins)."""


class SessionStore(Protocol):
    def add(self, session: PortalSession) -> None:
        """Store a new session."""

    def get(self, company_id: str, session_id: str) -> PortalSession:
        """The session, or ``NotFoundError``."""

    def touch(self, session: PortalSession, at: datetime) -> None:
        """Record activity (keeps an idle session alive)."""

    def delete(self, session: PortalSession) -> None:
        """End the session (deleting a missing one is not an error)."""


class SignInThrottle(Protocol):
    def locked_until(self, key: str, now: datetime) -> datetime | None:
        """When the lock on ``key`` (an email or a client) ends, if it is locked now."""

    def failed(self, key: str, now: datetime, rule: ThrottleRule) -> None:
        """Count a failed attempt; lock the key once the rule's limit is reached."""

    def clear(self, key: str) -> None:
        """Forget the failures of ``key`` (after a successful sign-in)."""


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    """``limit`` failures within ``window_seconds`` lock the key for ``lock_seconds``."""

    limit: int
    window_seconds: int
    lock_seconds: int


class IdentityProvider(Protocol):
    """Where portal users' passwords live (a Cognito user pool)."""

    def create_user(self, email: str) -> None:
        """A user without a password yet (no email is sent by the provider); an address the
        provider refuses is a ``ValidationError`` naming ``email``."""

    def set_password(self, email: str, password: str) -> None:
        """Set a permanent password; ``ValidationError`` when it breaks the password policy."""

    def verify(self, email: str, password: str) -> bool:
        """Whether the password is right; an unknown user is simply False."""

    def disable(self, email: str) -> None:
        """The user can no longer sign in."""

    def enable(self, email: str) -> None:
        """The user can sign in again."""
