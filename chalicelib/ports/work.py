"""Ports of tickets, their items, and outsourcings (both copies and their transitions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from chalicelib.domain.items import Item
from chalicelib.domain.outsourcing import HistoryEntry, OutsourceStatus, Outsourcing, Side
from chalicelib.domain.sync import Tombstone
from chalicelib.domain.tickets import Ticket, TicketStatus
from chalicelib.ports.common import Page


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
