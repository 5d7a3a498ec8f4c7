"""The interfaces the service layer needs. Adapters implement them; tests pass fakes.

Repositories speak domain objects only and raise domain errors (``NotFoundError``,
``ConflictError``) rather than storage exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, Protocol, TypeVar

from chalicelib.domain.fees import FeeRecord, Month, MonthTotal
from chalicelib.domain.items import Item
from chalicelib.domain.outsourcing import HistoryEntry, OutsourceStatus, Outsourcing, Side
from chalicelib.domain.partners import Invitation, PartnerMapping, PartnerRole, Partnership
from chalicelib.domain.subcontractors import (
    Company,
    LinkPurpose,
    OneTimeLink,
    PortalSession,
    PortalUser,
    SubcontractorLink,
)
from chalicelib.domain.sync import Tombstone
from chalicelib.domain.tenants import ApiKey, Tenant
from chalicelib.domain.tickets import Ticket, TicketStatus

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the opaque cursor of the next one (None at the end)."""

    items: Sequence[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Paging:
    """Which page of a list: at most ``limit`` entries after the opaque ``cursor``."""

    limit: int = 50
    cursor: str | None = None


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


class TicketRepository(Protocol):
    def next_number(self, tenant_id: str, day: date) -> int:
        """The next ticket sequence number of the tenant for that day (atomic counter)."""

    def add(self, ticket: Ticket) -> None:
        """Store a new ticket."""

    def get(self, tenant_id: str, ticket_id: str) -> Ticket:
        """The ticket, or ``NotFoundError`` (also for another tenant's ticket). Always a strongly
        consistent read: a ticket's outsourcing state decides what travels."""

    def update(self, ticket: Ticket, changes: Mapping[str, Any]) -> Ticket:
        """Apply ``changes`` if the stored version is ``ticket.version``, else ``ConflictError``."""

    def apply_lead_fields(
        self, owner_id: str, ticket_id: str, fields: Mapping[str, Any], lead_version: int
    ) -> bool:
        """Copy the lead's ticket fields onto an insourced ticket unless a newer lead version
        was already applied; returns whether it was written."""

    def list(
        self,
        tenant_id: str,
        *,
        status: TicketStatus | None,
        queue: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Ticket]:
        """The tenant's tickets, newest first, optionally filtered; one Query per page."""


class ItemRepository(Protocol):
    def add(self, item: Item) -> None:
        """Store a new item."""

    def get(self, tenant_id: str, ticket_id: str, item_id: str) -> Item:
        """The live item, or ``NotFoundError`` (deleted items are not found)."""

    def update(self, item: Item, changes: Mapping[str, Any]) -> Item:
        """Apply ``changes`` if the stored version is ``item.version``, else ``ConflictError``."""

    def list(
        self,
        tenant_id: str,
        ticket_id: str,
        limit: int,
        cursor: str | None,
        *,
        include_deleted: bool = False,
    ) -> Page[Item]:
        """Live items (and deleted ones if asked; never a replica's tombstone) of a ticket,
        oldest first; one strongly consistent Query per page (the catch-up and the cost at
        completion decide from it, and a writer sees its own items)."""

    def add_once(self, item: Item) -> bool:
        """Store ``item`` unless its id exists; returns whether it was stored."""

    def put_replica(self, replica: Item | Tombstone) -> bool:
        """Write a replica (or a tombstone, which replaces all of a replica's content) only if
        its ``origin_version`` is newer than the stored one (or none is stored); returns whether
        it was written. Replays and old changes write nothing."""


@dataclass(frozen=True, slots=True)
class TicketChange:
    ticket: Ticket
    changes: Mapping[str, Any]
    guard_version: bool = False  # True when the changes came from a user's edit


@dataclass(frozen=True, slots=True)
class TransitionPlan:
    """One outsourcing transition: both copies, the linked tickets, new tickets; all or nothing."""

    outsourcing_id: str
    copies: Sequence[Outsourcing]
    expected: OutsourceStatus
    new_status: OutsourceStatus
    entry: HistoryEntry
    copy_changes: Mapping[str, Any] = field(default_factory=dict)
    ticket_changes: Sequence[TicketChange] = ()
    new_tickets: Sequence[Ticket] = ()
    new_items: Sequence[Item] = ()  # e.g. the cost charge written at completion


class OutsourcingRepository(Protocol):
    def create(self, lead: Outsourcing, receiver: Outsourcing, ticket: Ticket) -> None:
        """Store both copies and link the lead ticket, unless the ticket already has an open
        outsourcing (``ConflictError(already_outsourced)``); atomically."""

    def get(self, owner_id: str, outsourcing_id: str) -> Outsourcing:
        """This owner's copy, or ``NotFoundError``."""

    def list(
        self,
        owner_id: str,
        side: Side,
        status: OutsourceStatus | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Outsourcing]:
        """This owner's copies on one side, newest first; one Query per page."""

    def apply(self, plan: TransitionPlan) -> None:
        """Carry out a transition atomically; a lost race is ``ConflictError``."""

    def counts(self, owner_id: str, side: Side) -> dict[OutsourceStatus, int]:
        """How many of the owner's outsourcings on that side are in each status (one read)."""

    def due_for_expiry(self, now: datetime, days_back: int) -> Sequence[Outsourcing]:
        """Assigned lead copies whose accept-by deadline has passed."""

    def find(
        self, owner_id: str, wanted: CopyFilter, limit: int, cursor: str | None
    ) -> Page[Outsourcing]:
        """The owner's received copies matching ``wanted``, newest first; one Query per page
        (a page may hold fewer than ``limit`` when a text filter is given)."""

    def assign(self, copy: Outsourcing, assignee_id: str, at: datetime) -> Outsourcing:
        """Give the receiver's open copy to another of its users (``ConflictError`` when it
        changed meanwhile)."""


@dataclass(frozen=True, slots=True)
class CopyFilter:
    """Which received work to list: assigned to one user, in one status, matching a text."""

    assignee_id: str | None = None
    status: OutsourceStatus | None = None
    text: str | None = None  # compared case-insensitively with number, title, site, customer


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: Any
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    fingerprint: str
    response: StoredResponse | None  # None while the first request is still running


class IdempotencyStore(Protocol):
    def begin(self, tenant_id: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
        """Claim ``key``; returns None when claimed now, or the existing record. A claim whose
        request never finished (a crash) lapses after the store's lease: the same request may
        then claim it again."""

    def finish(self, tenant_id: str, key: str, response: StoredResponse) -> None:
        """Store the first result for later repeats."""

    def abandon(self, tenant_id: str, key: str) -> None:
        """Release a claim whose request failed unexpectedly, so a retry can run."""


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    url: str
    fields: Mapping[str, str]
    expires_at: datetime


class FileStore(Protocol):
    def presign_upload(
        self, key: str, content_type: str, size: int, expires_in: int
    ) -> PresignedUpload:
        """A browser-usable POST that accepts exactly one object of that type and size."""

    def presign_download(self, key: str, file_name: str, expires_in: int) -> str:
        """A time-limited GET URL for the object, downloading under ``file_name``."""

    def delete(self, key: str) -> None:
        """Delete the object; deleting a missing object is not an error."""

    def copy(self, source_key: str, target_key: str) -> None:
        """Copy an object within the store; ``FileNotFoundError`` if the source is missing."""

    def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""


@dataclass(frozen=True, slots=True)
class Email:
    to: Sequence[str]
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A stream batch that failed every retry: where it is in the stream, not its records."""

    receipt: str
    stream_arn: str
    shard_id: str
    first_sequence_number: str
    last_sequence_number: str


class DeadLetterQueue(Protocol):
    def receive(self, max_messages: int) -> Sequence[DeadLetter]:
        """Take up to ``max_messages`` dead letters (they reappear unless deleted)."""

    def delete(self, letter: DeadLetter) -> None:
        """Remove a dead letter whose batch has now been processed."""


@dataclass(frozen=True, slots=True)
class StreamRead:
    """What reading a dead letter's range found.

    ``status`` is one of:
    - ``complete``: every record of the range (or up to a closed shard's end), in order, at
      least one;
    - ``trimmed``: the stream no longer holds the range (past retention, stream or shard gone);
    - ``incomplete``: the range could not be read to its end (``records`` is what was read).
    ``reason`` says why a read is not complete, in a word (e.g. the AWS error code).
    """

    COMPLETE = "complete"
    TRIMMED = "trimmed"
    INCOMPLETE = "incomplete"

    status: str
    records: Sequence[dict[str, Any]] = ()
    reason: str = ""


class StreamReader(Protocol):
    def read(self, stream_arn: str, shard_id: str, first: str, last: str) -> StreamRead:
        """Records ``first``..``last`` (sequence numbers, inclusive) of a shard, shaped like a
        Lambda stream event's records, and whether the stream still held all of them."""


class Mailer(Protocol):
    def send(self, email: Email) -> None:
        """Send one email."""


class MailQuota(Protocol):
    def take(self, tenant_id: str, day: date, limit: int) -> bool:
        """Count one outbound email of the tenant on that (UTC) day, unless ``limit`` were
        counted already: then count nothing and return False. Atomic: racing senders never
        pass the limit together."""


# -- the Subcontractor Portal -----------------------------------------------------------------


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
        """A user without a password yet (no email is sent by the provider)."""

    def set_password(self, email: str, password: str) -> None:
        """Set a permanent password; ``ValidationError`` when it breaks the password policy."""

    def verify(self, email: str, password: str) -> bool:
        """Whether the password is right; an unknown user is simply False."""

    def disable(self, email: str) -> None:
        """The user can no longer sign in."""

    def enable(self, email: str) -> None:
        """The user can sign in again."""


# -- fees --------------------------------------------------------------------------------------


class FeeRepository(Protocol):
    """Metered fees of the lead tenants, and each tenant's total per month."""

    def add(self, fee: FeeRecord) -> bool:
        """Store the fee and count it in its month's total, in one transaction, unless a fee of
        the same outsourcing exists: then nothing is written (returns False). Atomic: of two
        racing writes of one fee exactly one is stored and counted."""

    def list(self, tenant_id: str, month: Month, limit: int, cursor: str | None) -> Page[FeeRecord]:
        """The tenant's fees of one month, oldest acceptance first; one Query per page."""

    def total(self, tenant_id: str, month: Month) -> MonthTotal:
        """The month's count and sum per currency (one read; none yet is an empty total)."""
