"""The interfaces the service layer needs. Adapters implement them; tests pass fakes.

Repositories speak domain objects only and raise domain errors (``NotFoundError``,
``ConflictError``) rather than storage exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, Protocol, TypeVar

from chalicelib.domain.items import Item
from chalicelib.domain.outsourcing import HistoryEntry, OutsourceStatus, Outsourcing, Side
from chalicelib.domain.partners import Invitation, PartnerMapping, PartnerRole, Partnership
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
