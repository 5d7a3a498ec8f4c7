"""Synchronisation rules: what a change on one side becomes on the other.

* Only local items travel (replicas never echo back), and only changes made while the
  outsourcing was in progress (the item carries ``shared_with``), or caught up when the work
  (re)starts.
* A replica's id is derived from the outsourcing and the original item, so writing it twice is
  the same write; it is written only if its ``origin_version`` is newer than what is stored.
* Internal items never leave their tenant: an item that is (or becomes) internal, or is deleted,
  is a hidden tombstone on the other side.
* Service-partner notes and attachments land on the lead ticket as internal.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

from chalicelib.domain.ids import derived_id
from chalicelib.domain.items import Attachment, Charge, Item, ItemKind, Origin, TimeEntry
from chalicelib.domain.outsourcing import Outsourcing, PricingType, Side, SyncTarget

_FORCED_INTERNAL_FROM_RECEIVER = frozenset({ItemKind.NOTE, ItemKind.ATTACHMENT})


def replica_id(outsourcing_id: str, origin_item_id: str) -> str:
    return derived_id(origin_item_id, outsourcing_id, origin_item_id)


def replica_object_key(owner_id: str, ticket_id: str, item_id: str) -> str:
    """Where a replica's copy of a file lives: fixed per replica, so a rename never makes a
    second copy (the download is named from the attachment's current file name)."""
    return f"{owner_id}/{ticket_id}/{item_id}/file"


def replica_of(item: Item, target: SyncTarget) -> Item:
    """The other side's read-only copy of a local item (a hidden tombstone when not visible)."""
    if item.origin is not Origin.LOCAL:
        raise ValueError("replicas are never replicated")
    new_id = replica_id(target.outsourcing_id, item.item_id)
    internal = item.kind in _FORCED_INTERNAL_FROM_RECEIVER and target.side is Side.RECEIVER
    fields: dict[str, object] = {
        "tenant_id": target.peer_owner_id,
        "ticket_id": target.peer_ticket_id,
        "item_id": new_id,
        "origin": Origin.PARTNER,
        "origin_tenant": item.tenant_id,
        "origin_ticket_id": item.ticket_id,
        "origin_item_id": item.item_id,
        "origin_version": item.version,
        "outsourcing_id": target.outsourcing_id,
        "internal": internal,
        "deleted": item.deleted or item.internal,
        "shared_with": None,
        "version": item.version,
    }
    if isinstance(item, Attachment):
        fields["object_key"] = replica_object_key(
            target.peer_owner_id, target.peer_ticket_id, new_id
        )
    return dataclasses.replace(item, **fields)  # type: ignore[arg-type]


def is_shareable(item: Item) -> bool:
    """A local item the other side may see (when not deleted)."""
    return item.origin is Origin.LOCAL


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
