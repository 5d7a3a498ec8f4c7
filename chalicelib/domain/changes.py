"""The per-tenant change feed: which stream change becomes which entry of a tenant's log.

**A log, not an index.** Each tenant has its own ordered log of changes to its tickets, items and
outsourcings, written by a stream reaction in the stream's order: entry N+1 is appended by one
transaction conditional on the tenant's counter being N, so it can only exist once N committed,
and a strongly consistent read of the log always sees a prefix of it (no gaps, ever). An index
(a GSI sorted by time) would be simpler to write but is eventually consistent: it can show change
N+1 before N, and a reader already past N+1 would skip N for good.

**What an entry shows** is what the tenant's own GET would show of the object after the change
(``state``), or nothing for a delete: a ticket as ``GET /v1/tickets/{id}``, an item as in
``GET /v1/tickets/{id}/items`` (internal items included: they are the tenant's own), an
outsourcing as ``GET /v1/outsourcings/{id}`` (each side's copy lives in its own partition, so
each tenant's feed gets its own view: the lead's ``bill_customer_rate`` never reaches the
receiver's feed). The operation compares what was visible before and after:

==============================  ===========================  ==========
before                          after                        operation
==============================  ===========================  ==========
absent, deleted or hidden       visible                      ``create``
visible                         visible (changed)            ``update``
visible                         deleted, hidden or removed   ``delete``
absent, deleted or hidden       absent, deleted or hidden    (nothing)
==============================  ===========================  ==========

A hidden replica (a tombstone) is never visible: its content does not exist. **A visible
replica's content is not copied into the log either** (its entry names the object and the
operation, with ``state_omitted``): the content is the other tenant's, and that tenant may hide it
again (make the item internal, delete it), after which no copy of it may remain in this tenant's
records, yet the log keeps its entries for 30 days. A reader GETs the ticket's items to see the
replica as it is now (a hidden one is no longer listed). Subcontractor
companies (``T#<company>``) have no API and so no feed: a company's outsourcing copy is told by
its lane and side; for its tickets and items the log itself knows (see ``ports.changes``).

**Ordering.** DynamoDB Streams deliver the records of one item in the order of its writes, and the
items of one ticket share its partition key, so they come through one shard lineage in write order:
per ticket (the ticket and its items), the feed has the order of the writes. Across tickets, and
between a ticket and its outsourcing copy (stored under the tenant's own key), the feed has the
order in which the records were logged, which is not necessarily the order of the writes.

**Retention.** An entry is kept for :data:`RETENTION` (then DynamoDB's TTL removes it). Expiry
times never decrease along the log, so what is kept is always a gap-free suffix of it. A cursor
whose next entry is no longer kept is refused (410 ``cursor_expired``): resuming from the oldest
kept entry would skip changes silently.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.events import DomainEvent, ItemChanged, OutsourcingChanged, TicketChanged
from chalicelib.domain.items import Item, ItemKind
from chalicelib.domain.outsourcing import Lane, Outsourcing, Side
from chalicelib.domain.sync import Tombstone
from chalicelib.domain.tickets import Ticket

RETENTION = timedelta(days=30)
# Longer than the stream's 24 h retention: a record can be delivered again (replay, retried
# batch, dead-letter redrive) only while the stream still holds it.
DEDUP_RETENTION = timedelta(hours=48)

State = Ticket | Item | Outsourcing


class ObjectType(enum.StrEnum):
    TICKET = "ticket"
    NOTE = "note"
    TIME_ENTRY = "time_entry"
    CHARGE = "charge"
    ATTACHMENT = "attachment"
    OUTSOURCING = "outsourcing"


class Operation(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


_TYPE_OF_KIND = {
    ItemKind.NOTE: ObjectType.NOTE,
    ItemKind.TIME_ENTRY: ObjectType.TIME_ENTRY,
    ItemKind.CHARGE: ObjectType.CHARGE,
    ItemKind.ATTACHMENT: ObjectType.ATTACHMENT,
}


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """Which object changed: its type, its id and, for an item, its ticket."""

    type: ObjectType
    id: str
    ticket_id: str | None = None


@dataclass(frozen=True, slots=True)
class StreamSource:
    """The stream record a change came from: its table key and sequence number (which together
    identify the record, so a second delivery can be recognised) and its approximate time."""

    table_key: tuple[str, str]
    sequence_number: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Change:
    """A change to log in ``owner_id``'s feed (not yet numbered)."""

    owner_id: str
    object: ObjectRef
    operation: Operation
    state: State | None
    # A replica's content is the other tenant's: it is not copied into the log (see below).
    withheld: bool = False


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """One entry of a tenant's log: the change, its place and time, and until when it is kept."""

    sequence: int
    at: datetime
    object: ObjectRef
    operation: Operation
    state: State | None
    expires_at: datetime
    # The state did not fit in the entry (DynamoDB's 400 KB item limit): GET the object.
    state_omitted: bool = False


@dataclass(frozen=True, slots=True)
class Head:
    """The log's last sequence (0 when empty) and its last entry's expiry (None when empty)."""

    sequence: int
    expires_at: datetime | None = None


def expiry(now: datetime, head: Head) -> datetime:
    """When a new entry expires: after the retention, and never before the entry before it, so
    the kept entries are always a suffix of the log. Whole seconds: what a TTL attribute keeps."""
    wanted = (now + RETENTION).replace(microsecond=0)
    return max(wanted, head.expires_at) if head.expires_at is not None else wanted


def _visible_item(value: Item | Tombstone | None) -> Item | None:
    if isinstance(value, Item) and not value.deleted:
        return value
    return None


def _operation(before: State | None, after: State | None) -> Operation | None:
    if after is not None:
        if before is None:
            return Operation.CREATE
        return Operation.UPDATE if before != after else None
    return Operation.DELETE if before is not None else None


def _company_copy(copy: Outsourcing | None) -> bool:
    return copy is not None and copy.lane is Lane.SUBCONTRACTOR and copy.side is Side.RECEIVER


def change_of(event: DomainEvent) -> Change | None:
    """The change a stream event makes to its owner's feed, or None when it shows nothing."""
    if isinstance(event, ItemChanged):
        current = event.current
        before, after = _visible_item(event.before), _visible_item(event.after)
        operation = _operation(before, after)
        if operation is None:
            return None
        ref = ObjectRef(_TYPE_OF_KIND[current.kind], current.item_id, current.ticket_id)
        if after is not None and after.read_only:
            return Change(current.tenant_id, ref, operation, None, withheld=True)
        return Change(current.tenant_id, ref, operation, after)
    if isinstance(event, TicketChanged):
        ticket = event.after or event.before
        assert ticket is not None
        operation = _operation(event.before, event.after)
        if operation is None:
            return None
        ref = ObjectRef(ObjectType.TICKET, ticket.ticket_id)
        return Change(ticket.tenant_id, ref, operation, event.after)
    if isinstance(event, OutsourcingChanged):
        copy = event.after or event.before
        assert copy is not None
        operation = _operation(event.before, event.after)
        if operation is None or _company_copy(copy):
            return None
        ref = ObjectRef(ObjectType.OUTSOURCING, copy.outsourcing_id)
        return Change(copy.owner_id, ref, operation, event.after)
    return None
