"""Stream records (DynamoDB images) to domain events, through the same record mapping as reads."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo.models import (
    ItemRecord,
    OutsourcingRecord,
    Record,
    TicketRecord,
)
from chalicelib.adapters.dynamo.repositories import item_from, outsourcing_from, ticket_from
from chalicelib.domain.events import DomainEvent, ItemChanged, OutsourcingChanged, TicketChanged

ITEM_TYPES = frozenset({"note", "time_entry", "charge", "attachment"})


def record_key(raw: dict[str, Any]) -> tuple[str, str]:
    """The table key a stream record is about (changes to one key must apply in order)."""
    keys = raw.get("dynamodb", {}).get("Keys", {})
    return keys.get("pk", {}).get("S", ""), keys.get("sk", {}).get("S", "")


def _load(image: dict[str, Any] | None) -> Record | None:
    return Record.from_raw_data(image) if image else None


def decode(raw: dict[str, Any]) -> DomainEvent | None:
    """The domain event a stream record carries, or None for records nobody reacts to."""
    body = raw.get("dynamodb", {})
    new_image, old_image = body.get("NewImage"), body.get("OldImage")
    image = new_image or old_image
    if not image:
        return None
    kind = image.get("type", {}).get("S")
    if kind in ITEM_TYPES:
        before, after = _load(old_image), _load(new_image)
        return ItemChanged(
            before=item_from(before) if isinstance(before, ItemRecord) else None,
            after=item_from(after) if isinstance(after, ItemRecord) else None,
        )
    if kind == "outsourcing":
        before, after = _load(old_image), _load(new_image)
        return OutsourcingChanged(
            before=outsourcing_from(before) if isinstance(before, OutsourcingRecord) else None,
            after=outsourcing_from(after) if isinstance(after, OutsourcingRecord) else None,
        )
    if kind == "ticket":
        before, after = _load(old_image), _load(new_image)
        return TicketChanged(
            before=ticket_from(before) if isinstance(before, TicketRecord) else None,
            after=ticket_from(after) if isinstance(after, TicketRecord) else None,
        )
    return None
