"""Ticket items: notes, time entries, charges and attachments, and who may change them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from chalicelib.domain.errors import ConflictError, ValidationError

if TYPE_CHECKING:
    from chalicelib.domain.sync import Destination


class ItemKind(enum.StrEnum):
    NOTE = "note"
    TIME_ENTRY = "time_entry"
    CHARGE = "charge"
    ATTACHMENT = "attachment"


class Origin(enum.StrEnum):
    """``local``: written in this tenant. ``partner``: a read-only replica from the other side."""

    LOCAL = "local"
    PARTNER = "partner"


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    tenant_id: str
    ticket_id: str
    item_id: str
    internal: bool = False
    origin: Origin = Origin.LOCAL
    # Set on replicas only: where the item was written and which outsourcing carried it.
    origin_tenant: str | None = None
    origin_ticket_id: str | None = None
    origin_item_id: str | None = None
    origin_version: int | None = None
    outsourcing_id: str | None = None
    created_by: str = ""
    created_at: datetime
    updated_at: datetime
    deleted: bool = False
    version: int = 1
    # Local items written or changed while the ticket's outsourcing was in progress: where the
    # change goes (see domain.sync).
    destination: Destination | None = None

    kind: ItemKind = ItemKind.NOTE  # overridden by each subclass

    @property
    def read_only(self) -> bool:
        return self.origin is not Origin.LOCAL


@dataclass(frozen=True, slots=True, kw_only=True)
class Note(Item):
    kind: ItemKind = ItemKind.NOTE
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeEntry(Item):
    kind: ItemKind = ItemKind.TIME_ENTRY
    date: date
    hours_worked: Decimal
    hours_billable: Decimal
    work_type: str | None = None
    summary: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Charge(Item):
    kind: ItemKind = ItemKind.CHARGE
    name: str
    quantity: Decimal
    unit_cost: Decimal
    unit_price: Decimal
    billable: bool = True
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment(Item):
    kind: ItemKind = ItemKind.ATTACHMENT
    file_name: str
    content_type: str
    size: int
    object_key: str


ITEM_CLASSES: dict[ItemKind, type[Item]] = {
    ItemKind.NOTE: Note,
    ItemKind.TIME_ENTRY: TimeEntry,
    ItemKind.CHARGE: Charge,
    ItemKind.ATTACHMENT: Attachment,
}

# What a PATCH may change, per kind. ``internal`` is always editable on local items.
EDITABLE_FIELDS: dict[ItemKind, frozenset[str]] = {
    ItemKind.NOTE: frozenset({"text", "internal"}),
    ItemKind.TIME_ENTRY: frozenset(
        {"date", "hours_worked", "hours_billable", "work_type", "summary", "internal"}
    ),
    ItemKind.CHARGE: frozenset(
        {"name", "quantity", "unit_cost", "unit_price", "billable", "internal"}
    ),
    ItemKind.ATTACHMENT: frozenset({"file_name", "internal"}),
}


# Fields a PATCH may clear with null; every other field needs a value.
NULLABLE_FIELDS: frozenset[str] = frozenset({"work_type"})


def check_changes(kind: ItemKind, changes: dict[str, object]) -> None:
    """Refuse fields a PATCH may not touch, and nulls on fields that need a value (400)."""
    for name, value in changes.items():
        if name not in EDITABLE_FIELDS[kind]:
            raise ValidationError(f"Field '{name}' cannot be changed.", field=name)
        if value is None and name not in NULLABLE_FIELDS:
            raise ValidationError(f"'{name}' cannot be null.", field=name)


def ensure_writable(item: Item) -> None:
    """Replicas that came from the other side are read-only: editing or deleting one is refused."""
    if item.read_only:
        raise ConflictError(
            "This item came from the other side of an outsourcing and is read-only here.",
            code="replica_read_only",
        )
