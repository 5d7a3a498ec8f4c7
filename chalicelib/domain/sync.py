"""The rule book of synchronisation: everything that decides what travels to the other side.

One name for "where a change goes": a :class:`Destination` (the outsourcing, the side the change
is made on, and the other side's tenant and ticket). A ticket has one while its outsourcing is in
progress (:func:`destination_of`); an item written or changed then is stamped with it, and the
stream reaction replicates exactly the changes that carry one.

* Only local items travel: replicas never echo back (:func:`travels`).
* Only while the work is in progress (:func:`syncs`); ``waiting_approval`` suspends it, and after
  ``complete`` or ``recalled`` nothing travels any more. When the work starts or resumes
  (:func:`starts_work`) both tickets are caught up.
* A replica's id is derived from the outsourcing and the original item, so writing it twice is
  the same write; it is written only if its ``origin_version`` is newer than what is stored.
* Internal items never leave their tenant: an item that is (or becomes) internal, or is deleted,
  is a :class:`Tombstone` on the other side (:func:`replica_of`): where it came from and how new,
  and nothing of its content, not even its author.
* A replica names the company that wrote the item (``Destination.author``), never its
  credential.
* Service-partner notes and attachments land on the lead ticket as internal.
* The lead's edits to title, description, priority and complete-by follow to the insourced copy
  (:data:`LEAD_FIELDS`).
* At completion the receiver's time becomes one internal, non-billable charge (:func:`cost_charge`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.ids import derived_id
from chalicelib.domain.items import Attachment, Charge, Item, ItemKind, Origin, TimeEntry
from chalicelib.domain.outsourcing import OutsourceStatus, Outsourcing, PricingType, Side
from chalicelib.domain.tickets import Ticket


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a change on a ticket is replicated while its outsourcing is in progress."""

    outsourcing_id: str
    side: Side  # the side the change is made on
    peer_owner_id: str
    peer_ticket_id: str
    # The company the change comes from, as the other side knows it ("Acme IT"): the author
    # its replicas name. (None on items stamped before authors were recorded.)
    author: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Tombstone:
    """The other side's record of an item it may not see (internal or deleted): the ids, the
    kind, the origin version that hid it, and nothing else. It keeps its place so that an older
    change of the item, replayed late, can never bring the content back."""

    tenant_id: str
    ticket_id: str
    item_id: str
    kind: ItemKind
    origin_tenant: str
    origin_ticket_id: str
    origin_item_id: str
    origin_version: int
    outsourcing_id: str
    deleted: bool = True  # hidden, always
    origin: Origin = Origin.PARTNER

    @property
    def read_only(self) -> bool:
        return True


# Lead edits to these ticket fields flow to the insourced copy.
LEAD_FIELDS = ("title", "description", "priority", "complete_by")

# Receiver items of these kinds land on the lead ticket as internal (never shown to the customer).
_INTERNAL_ON_LEAD_SIDE = frozenset({ItemKind.NOTE, ItemKind.ATTACHMENT})


def syncs(status: OutsourceStatus | None) -> bool:
    """Items and edits travel only while the work is in progress."""
    return status is OutsourceStatus.IN_PROGRESS


def starts_work(before: OutsourceStatus | None, after: OutsourceStatus) -> bool:
    """The work starts (accepted) or resumes (completion rejected): time to catch up."""
    return after is not before and syncs(after)


def destination_of(ticket: Ticket) -> Destination | None:
    """Where changes on this ticket are replicated right now (None: they stay here)."""
    if (
        ticket.outsourcing_id is None
        or ticket.outsourcing_side is None
        or ticket.peer_owner_id is None
        or ticket.peer_ticket_id is None
        or not syncs(ticket.outsourcing_status)
    ):
        return None
    return Destination(
        outsourcing_id=ticket.outsourcing_id,
        side=ticket.outsourcing_side,
        peer_owner_id=ticket.peer_owner_id,
        peer_ticket_id=ticket.peer_ticket_id,
        author=ticket.shown_as,
    )


def destinations_of_both(
    lead_ticket: Ticket, copy: Outsourcing
) -> tuple[tuple[Destination, str, str], ...]:
    """For a catch-up: each side's (destination, owner, ticket), from the lead ticket, with the
    companies' names from the outsourcing."""
    found = destination_of(lead_ticket)
    if found is None:
        return ()
    lead = dataclasses.replace(found, author=copy.lead_name)
    receiver_author = copy.receiver_name
    receiver = Destination(
        outsourcing_id=lead.outsourcing_id,
        side=Side.RECEIVER,
        peer_owner_id=lead_ticket.tenant_id,
        peer_ticket_id=lead_ticket.ticket_id,
        author=receiver_author,
    )
    return (
        (lead, lead_ticket.tenant_id, lead_ticket.ticket_id),
        (receiver, lead.peer_owner_id, lead.peer_ticket_id),
    )


def travels(item: Item) -> bool:
    """A local item: the only kind whose changes may go to the other side."""
    return item.origin is Origin.LOCAL


def is_visible(item: Item | None) -> bool:
    """What the other side may see of an item: neither deleted nor internal."""
    return item is not None and not item.deleted and not item.internal


def change_travels(before: Item | None, after: Item) -> bool:
    """Whether this change of a local item may matter to the other side: it is visible before or
    after (internal or deleted on both sides changes nothing over there)."""
    return travels(after) and (is_visible(after) or is_visible(before))


def unknown_author(side: Side) -> str:
    """The author a replica names when the item predates recorded authors."""
    return "Lead partner" if side is Side.LEAD else "Service partner"


def replica_id(outsourcing_id: str, origin_item_id: str) -> str:
    return derived_id(origin_item_id, outsourcing_id, origin_item_id)


def replica_object_key(owner_id: str, ticket_id: str, item_id: str) -> str:
    """Where a replica's copy of a file lives: fixed per replica, so a rename never makes a
    second copy (the download is named from the attachment's current file name)."""
    return f"{owner_id}/{ticket_id}/{item_id}/file"


def replica_of(item: Item, destination: Destination) -> Item | Tombstone:
    """The other side's read-only copy of a local item, or its tombstone when it is hidden."""
    if not travels(item):
        raise ValueError("replicas are never replicated")
    new_id = replica_id(destination.outsourcing_id, item.item_id)
    if not is_visible(item):
        return Tombstone(
            tenant_id=destination.peer_owner_id,
            ticket_id=destination.peer_ticket_id,
            item_id=new_id,
            kind=item.kind,
            origin_tenant=item.tenant_id,
            origin_ticket_id=item.ticket_id,
            origin_item_id=item.item_id,
            origin_version=item.version,
            outsourcing_id=destination.outsourcing_id,
        )
    internal = item.kind in _INTERNAL_ON_LEAD_SIDE and destination.side is Side.RECEIVER
    fields: dict[str, object] = {
        "tenant_id": destination.peer_owner_id,
        "ticket_id": destination.peer_ticket_id,
        "item_id": new_id,
        "origin": Origin.PARTNER,
        "origin_tenant": item.tenant_id,
        "origin_ticket_id": item.ticket_id,
        "origin_item_id": item.item_id,
        "origin_version": item.version,
        "outsourcing_id": destination.outsourcing_id,
        "internal": internal,
        "deleted": False,
        "destination": None,
        "version": item.version,
        "created_by": destination.author or unknown_author(destination.side),
    }
    if isinstance(item, Attachment):
        fields["object_key"] = replica_object_key(
            destination.peer_owner_id, destination.peer_ticket_id, new_id
        )
    return dataclasses.replace(item, **fields)  # type: ignore[arg-type]


def lead_fields(ticket: Ticket) -> dict[str, Any]:
    """The lead ticket's fields that the insourced copy follows."""
    return {name: getattr(ticket, name) for name in LEAD_FIELDS}


def lead_fields_changed(before: Ticket | None, after: Ticket) -> bool:
    return before is None or lead_fields(before) != lead_fields(after)


def follows_lead(before: Ticket | None, after: Ticket | None) -> Destination | None:
    """Where a lead ticket's edit goes: the insourced copy, while the work is in progress and
    when one of the followed fields changed."""
    if after is None or after.outsourcing_side is not Side.LEAD:
        return None
    destination = destination_of(after)
    if destination is None or not lead_fields_changed(before, after):
        return None
    return destination


def receiver_time(items: Iterable[Item]) -> list[TimeEntry]:
    """The receiver's own visible time entries: what the cost of the work is made of."""
    return [
        item
        for item in items
        if isinstance(item, TimeEntry) and travels(item) and not item.internal and not item.deleted
    ]


def cost_charge(outsourcing: Outsourcing, receiver_time: list[TimeEntry], now: datetime) -> Charge:
    """The cost of the work: the receiver's time summed into one non-billable charge.

    Hourly pricing: quantity = hours, unit cost = the rate. Flat pricing: one unit at the flat
    amount, the hours named in the charge. Internal, so it never reaches the end customer.
    """
    hours = sum((t.hours_worked for t in receiver_time if not t.deleted), Decimal(0))
    terms = outsourcing.terms
    if terms.pricing_type is PricingType.HOURLY:
        quantity, unit_cost = hours, terms.pricing_amount
    else:
        quantity, unit_cost = Decimal(1), terms.pricing_amount
    return Charge(
        tenant_id=outsourcing.lead_tenant_id,
        ticket_id=outsourcing.lead_ticket_id,
        item_id=derived_id(outsourcing.outsourcing_id, "cost", outsourcing.outsourcing_id),
        internal=True,
        created_by="system",
        created_at=now,
        updated_at=now,
        name=f"Outsourced work by {outsourcing.receiver_name}: {hours.normalize():f} h",
        quantity=quantity if quantity > 0 else Decimal(1),
        unit_cost=unit_cost if quantity > 0 else Decimal(0),
        unit_price=Decimal(0),
        billable=False,
        currency=outsourcing.currency,
    )
