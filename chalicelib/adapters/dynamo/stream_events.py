"""Stream records (DynamoDB images) to domain events, through the same codecs as reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.dynamo.items import ItemRecord, TombstoneRecord, item_from, tombstone_from
from chalicelib.adapters.dynamo.outsourcings import OutsourcingRecord, outsourcing_from
from chalicelib.adapters.dynamo.table import Record
from chalicelib.adapters.dynamo.tickets import TicketRecord, ticket_from
from chalicelib.domain.changes import StreamSource
from chalicelib.domain.events import DomainEvent, ItemChanged, OutsourcingChanged, TicketChanged
from chalicelib.domain.items import Item
from chalicelib.domain.sync import Tombstone

_REACTED_TO = frozenset(
    {"note", "time_entry", "charge", "attachment", "tombstone", "outsourcing", "ticket"}
)


def record_key(raw: dict[str, Any]) -> tuple[str, str]:
    """The table key a stream record is about (changes to one key must apply in order)."""
    keys = raw.get("dynamodb", {}).get("Keys", {})
    return keys.get("pk", {}).get("S", ""), keys.get("sk", {}).get("S", "")


def source_of(raw: dict[str, Any]) -> StreamSource:
    """The record's identity (table key and sequence number) and approximate write time (the
    time of reading it, for a record without one)."""
    body = raw.get("dynamodb", {})
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):  # as boto3 returns it, should a reader pass it on
        at = created.astimezone(UTC)
    elif isinstance(created, int | float | str) and str(created).replace(".", "", 1).isdigit():
        at = datetime.fromtimestamp(float(created), UTC)
    else:
        at = datetime.now(UTC)
    return StreamSource(
        table_key=record_key(raw), sequence_number=str(body.get("SequenceNumber", "")), at=at
    )


def _load(image: dict[str, Any] | None) -> Record | None:
    return Record.from_raw_data(image) if image else None


def _item_or_tombstone(record: Record | None) -> Item | Tombstone | None:
    if isinstance(record, ItemRecord):
        return item_from(record)
    if isinstance(record, TombstoneRecord):
        return tombstone_from(record)
    return None


def decode(raw: dict[str, Any]) -> DomainEvent | None:
    """The domain event a stream record carries, or None for records nobody reacts to."""
    body = raw.get("dynamodb", {})
    image = body.get("NewImage") or body.get("OldImage") or {}
    if image.get("type", {}).get("S") not in _REACTED_TO:
        return None  # tenants, keys, counters...: nothing reacts to them, so nothing is decoded
    before, after = _load(body.get("OldImage")), _load(body.get("NewImage"))
    found = after if after is not None else before
    if isinstance(found, ItemRecord | TombstoneRecord):
        return ItemChanged(before=_item_or_tombstone(before), after=_item_or_tombstone(after))
    if isinstance(found, OutsourcingRecord):
        return OutsourcingChanged(
            before=outsourcing_from(before) if isinstance(before, OutsourcingRecord) else None,
            after=outsourcing_from(after) if isinstance(after, OutsourcingRecord) else None,
        )
    if isinstance(found, TicketRecord):
        return TicketChanged(
            before=ticket_from(before) if isinstance(before, TicketRecord) else None,
            after=ticket_from(after) if isinstance(after, TicketRecord) else None,
        )
    return None
